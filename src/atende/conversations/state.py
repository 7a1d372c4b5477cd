"""Who owns a conversation, as data: states, triggers, and a pure transition function.

``bot``: the assistant answers. ``queued``: a human was asked for and none took it yet; the bot is
silent. ``human``: an agent owns it; the bot is silent. ``closed``: finished; the next inbound
message reopens it to the bot. The human inbox (a later issue) drives agent_assigned/released/close.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Owner(StrEnum):
    bot = "bot"
    queued = "queued"
    human = "human"
    closed = "closed"


class Trigger(StrEnum):
    inbound = "inbound"
    handoff = "handoff"
    agent_assigned = "agent_assigned"
    agent_released = "agent_released"
    close = "close"


class Effect(StrEnum):
    answer = "answer"  # the engine replies to this turn
    notify_agents = "notify_agents"  # the inbox must show this conversation
    stay_silent = "stay_silent"  # a human is (or will be) talking: the bot must not


@dataclass(frozen=True, slots=True)
class Transition:
    owner: Owner
    effects: tuple[Effect, ...] = ()


class InvalidTransition(ValueError):
    pass


TABLE: dict[tuple[Owner, Trigger], Transition] = {
    (Owner.bot, Trigger.inbound): Transition(Owner.bot, (Effect.answer,)),
    (Owner.queued, Trigger.inbound): Transition(
        Owner.queued, (Effect.stay_silent, Effect.notify_agents)
    ),
    (Owner.human, Trigger.inbound): Transition(
        Owner.human, (Effect.stay_silent, Effect.notify_agents)
    ),
    (Owner.closed, Trigger.inbound): Transition(Owner.bot, (Effect.answer,)),
    (Owner.bot, Trigger.handoff): Transition(Owner.queued, (Effect.notify_agents,)),
    (Owner.queued, Trigger.handoff): Transition(Owner.queued),
    (Owner.human, Trigger.handoff): Transition(Owner.human),
    (Owner.queued, Trigger.agent_assigned): Transition(Owner.human, (Effect.notify_agents,)),
    (Owner.bot, Trigger.agent_assigned): Transition(Owner.human, (Effect.notify_agents,)),
    (Owner.human, Trigger.agent_released): Transition(Owner.bot),
    (Owner.queued, Trigger.agent_released): Transition(Owner.bot),
    (Owner.bot, Trigger.close): Transition(Owner.closed),
    (Owner.queued, Trigger.close): Transition(Owner.closed),
    (Owner.human, Trigger.close): Transition(Owner.closed),
}


def transition(owner: Owner | str, trigger: Trigger) -> Transition:
    try:
        return TABLE[(Owner(owner), trigger)]
    except KeyError:
        raise InvalidTransition(f"{trigger} is not allowed when the owner is {owner}") from None
