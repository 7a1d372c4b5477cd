from __future__ import annotations

import itertools

import pytest

from atende.conversations.state import (
    TABLE,
    Effect,
    InvalidTransition,
    Owner,
    Transition,
    Trigger,
    transition,
)

ALL_PAIRS = list(itertools.product(Owner, Trigger))

#: The pairs the product allows, written out independently of TABLE.
ALLOWED = {
    (Owner.bot, Trigger.inbound),
    (Owner.queued, Trigger.inbound),
    (Owner.human, Trigger.inbound),
    (Owner.closed, Trigger.inbound),
    (Owner.bot, Trigger.handoff),
    (Owner.queued, Trigger.handoff),
    (Owner.human, Trigger.handoff),
    (Owner.bot, Trigger.agent_assigned),
    (Owner.queued, Trigger.agent_assigned),
    (Owner.human, Trigger.agent_released),
    (Owner.queued, Trigger.agent_released),
    (Owner.bot, Trigger.close),
    (Owner.queued, Trigger.close),
    (Owner.human, Trigger.close),
}


@pytest.mark.parametrize(("owner", "trigger"), ALL_PAIRS)
def test_that_every_pair_is_either_in_the_table_or_invalid(owner: Owner, trigger: Trigger) -> None:
    if (owner, trigger) in ALLOWED:
        step = transition(owner, trigger)
        assert step == TABLE[(owner, trigger)]
        assert isinstance(step.owner, Owner)
    else:
        assert (owner, trigger) not in TABLE
        with pytest.raises(InvalidTransition, match=str(trigger)):
            transition(owner, trigger)


def test_that_the_table_allows_exactly_the_documented_pairs() -> None:
    assert set(TABLE) == ALLOWED


@pytest.mark.parametrize(("owner", "trigger"), list(TABLE))
def test_that_the_bot_is_silent_whenever_the_owner_ends_queued_or_human(
    owner: Owner, trigger: Trigger
) -> None:
    step = transition(owner, trigger)

    if step.owner in {Owner.queued, Owner.human}:
        assert Effect.answer not in step.effects
    if Effect.answer in step.effects:
        assert step.owner is Owner.bot


@pytest.mark.parametrize("owner", [Owner.queued, Owner.human])
def test_that_an_inbound_message_to_a_queued_or_human_conversation_keeps_the_bot_silent(
    owner: Owner,
) -> None:
    step = transition(owner, Trigger.inbound)

    assert step.owner is owner
    assert Effect.stay_silent in step.effects
    assert Effect.answer not in step.effects
    assert Effect.notify_agents in step.effects


def test_that_an_inbound_message_reopens_a_closed_conversation_to_the_bot() -> None:
    assert transition(Owner.closed, Trigger.inbound) == Transition(Owner.bot, (Effect.answer,))


def test_that_the_bot_answers_inbound_while_it_owns_the_conversation() -> None:
    assert transition(Owner.bot, Trigger.inbound) == Transition(Owner.bot, (Effect.answer,))


def test_that_a_handoff_from_the_bot_queues_for_agents() -> None:
    step = transition(Owner.bot, Trigger.handoff)

    assert step.owner is Owner.queued
    assert Effect.notify_agents in step.effects
    assert Effect.answer not in step.effects


@pytest.mark.parametrize("owner", [Owner.queued, Owner.human])
def test_that_a_repeated_handoff_changes_nothing(owner: Owner) -> None:
    assert transition(owner, Trigger.handoff) == Transition(owner)


def test_that_an_owner_given_as_a_stored_string_is_accepted() -> None:
    assert transition("closed", Trigger.inbound).owner is Owner.bot


@pytest.mark.parametrize(
    "trigger", [Trigger.handoff, Trigger.agent_assigned, Trigger.agent_released, Trigger.close]
)
def test_that_a_closed_conversation_only_reopens_on_inbound(trigger: Trigger) -> None:
    with pytest.raises(InvalidTransition):
        transition(Owner.closed, trigger)


def test_that_an_agent_cannot_release_a_conversation_the_bot_owns() -> None:
    with pytest.raises(InvalidTransition, match="owner is bot"):
        transition(Owner.bot, Trigger.agent_released)


def test_that_a_full_human_round_trip_ends_back_with_the_bot() -> None:
    owner = Owner.bot
    for trigger in (Trigger.handoff, Trigger.agent_assigned, Trigger.agent_released):
        owner = transition(owner, trigger).owner

    assert owner is Owner.bot
    assert transition(owner, Trigger.inbound).effects == (Effect.answer,)
