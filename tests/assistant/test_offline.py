from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from atende.assistant.offline import HANDOFF, NOT_UNDERSTOOD, OfflineEngine, normalise
from atende.assistant.port import Action, Handoff, Remember, Say, Turn, TurnMessage
from atende.channels.types import TextContent


async def _turn(
    text: str,
    *,
    contact_name: str | None = "Maria Souza",
    state: Mapping[str, Any] | None = None,
) -> Turn:
    return Turn(
        tenant_id="tenant-1",
        conversation_id="conv-1",
        session_id="session-1",
        channel_kind="whatsapp",
        text=text,
        messages=(TurnMessage(type="text", text=text, content={}),),
        state=state or {},
        contact_name=contact_name,
        new_session=not state,
        now=datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
    )


async def _reply(text: str, **kwargs: Any) -> Sequence[Action]:
    return await OfflineEngine().reply(await _turn(text, **kwargs))


def _said(actions: Sequence[Action]) -> list[str]:
    return [
        a.content.body for a in actions if isinstance(a, Say) and isinstance(a.content, TextContent)
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Olá", "ola"),
        ("OLÁ!!", "ola!!"),
        ("E aí", "e ai"),
        ("boa noite 😊", "boa noite "),
        ("Ação", "acao"),
    ],
)
def test_that_normalise_lowercases_and_drops_accents_and_emoji(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "greeting",
    [
        "oi",
        "Oiii",
        "Olá",
        "OLÁ!!",
        "ola",
        "bom dia",
        "Bom dia!",
        "boa tarde",
        "boa noite 😊",
        "e aí",
        "E aí?",
    ],
)
async def test_that_greetings_in_many_spellings_are_answered_with_the_first_name(
    greeting: str,
) -> None:
    actions = await _reply(greeting, contact_name="Maria Souza", state={"misunderstood": 2})

    assert _said(actions) == ["Olá, Maria! 👋 Sou a assistente virtual. Como posso ajudar?"]
    assert Remember({"misunderstood": 0}) in actions
    assert not any(isinstance(a, Handoff) for a in actions)


@pytest.mark.parametrize("name", [None, ""])
async def test_that_a_greeting_without_a_contact_name_greets_plainly(name: str | None) -> None:
    actions = await _reply("oi", contact_name=name)

    assert _said(actions) == ["Olá! 👋 Sou a assistente virtual. Como posso ajudar?"]


@pytest.mark.parametrize(
    "request_text",
    [
        "quero falar com um atendente",
        "me transfere pra um humano",
        "atendente por favor",
        "ATENDENTE!!!",
        "Oi, quero falar com alguém de verdade",
    ],
)
async def test_that_asking_for_a_person_says_so_and_hands_off(request_text: str) -> None:
    actions = await _reply(request_text)

    assert len(actions) == 2
    assert actions[0] == Say(TextContent(HANDOFF))
    assert isinstance(actions[1], Handoff)
    assert actions[1].reason


@pytest.mark.parametrize(
    "text", ["qual o prazo de entrega?", "123456", "😊", "", "quanto custa o frete para Recife"]
)
async def test_that_anything_else_is_not_understood_and_counted(text: str) -> None:
    actions = await _reply(text)

    assert list(actions) == [Say(TextContent(NOT_UNDERSTOOD)), Remember({"misunderstood": 1})]


async def test_that_the_misunderstood_count_grows_across_turns() -> None:
    state: Mapping[str, Any] = {}
    for expected in (1, 2, 3):
        actions = await _reply("blá blá", state=state)
        memory = [a for a in actions if isinstance(a, Remember)]
        assert memory == [Remember({"misunderstood": expected})]
        state = memory[0].state


async def test_that_the_engine_never_hands_off_on_a_greeting() -> None:
    for text in ("oi", "bom dia", "olá, tudo bem?"):
        assert not any(isinstance(a, Handoff) for a in await _reply(text))
