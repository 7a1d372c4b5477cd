"""The pipeline behind the webhook: bursts, order, concurrency, handoff, sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from atende.assistant.port import Action, Say, Turn
from atende.channels.types import TextContent
from atende.config import Settings
from atende.conversations.models import Conversation, ConversationEvent
from atende.devtools.fake_graph import FakeGraph
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS
from tests.support.app import Seeded, running, seed, signed
from tests.support.payloads import body, text_message, webhook
from tests.support.waiting import idle, until

PATH = "/webhooks/whatsapp/acme-whatsapp"


class EchoEngine:
    """Answers with what it was told; can hold one customer's turns until released."""

    name = "echo"

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.entered: dict[str, asyncio.Event] = {}
        self.turns: list[str] = []
        self.ids: list[tuple[str, str]] = []

    async def reply(self, turn: Turn) -> Sequence[Action]:
        self.turns.append(turn.text)
        self.ids.append((turn.conversation_id, turn.session_id))
        first = turn.text.split("\n")[0]
        key = first.split(":")[0]
        if key in self.gates:
            self.entered.setdefault(key, asyncio.Event()).set()
            await self.gates[key].wait()
        return [Say(TextContent(f"eco: {turn.text}"))]


async def post(client: httpx.AsyncClient, wa_id: str, text: str) -> None:
    raw = body(webhook([text_message(wa_id, text)]))
    response = await client.post(PATH, content=raw, headers=signed(raw))
    assert response.status_code == 200


@pytest.fixture
def echo() -> EchoEngine:
    return EchoEngine()


@pytest.fixture
async def echo_app(
    settings: Settings, echo: EchoEngine, graph: FakeGraph
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    container = Container(settings, engine=echo)
    await seed(container, graph.url)
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        yield container, client


async def test_that_a_burst_is_answered_as_one_turn(
    settings: Settings, graph: FakeGraph, echo: EchoEngine
) -> None:
    # A window wide enough that three quick posts always land inside it.
    burst = settings.model_copy(update={"burst_window_seconds": 1.0, "burst_max_seconds": 5.0})
    container = Container(burst, engine=echo)
    await seed(container, graph.url)
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        for fragment in ("oi", "queria saber", "do meu pedido"):
            await post(client, "5511987654321", fragment)
        await until(container, lambda: idle(container))
    assert echo.turns == ["oi\nqueria saber\ndo meu pedido"]
    assert len(graph.messages) == 1


async def test_that_one_contact_is_answered_in_order_while_others_proceed(
    echo_app: tuple[Container, httpx.AsyncClient], echo: EchoEngine, graph: FakeGraph
) -> None:
    container, client = echo_app
    echo.gates["a1"] = asyncio.Event()
    await post(client, "5511900000001", "a1: primeira")
    await asyncio.wait_for(echo.entered.setdefault("a1", asyncio.Event()).wait(), 10)
    # Contact A is stuck inside the engine; A's later messages wait, B is answered meanwhile.
    for text in ("a2: segunda", "a3: terceira"):
        await post(client, "5511900000001", text)
    await post(client, "5511900000002", "b1: oi")
    sent = await graph.wait_for_messages(1)
    assert sent[0].json is not None
    assert sent[0].json["to"] == "5511900000002"
    echo.gates["a1"].set()
    await until(container, lambda: idle(container))
    to_a = [m.json["text"]["body"] for m in graph.messages if m.json and m.json["to"].endswith("1")]
    words = " ".join(to_a)
    assert words.index("primeira") < words.index("segunda") < words.index("terceira")
    assert to_a[0] == "eco: a1: primeira"


async def test_that_many_contacts_each_get_exactly_one_answer(
    echo_app: tuple[Container, httpx.AsyncClient], graph: FakeGraph
) -> None:
    container, client = echo_app
    phones = [f"55119{n:08d}" for n in range(40)]
    await asyncio.gather(*(post(client, phone, f"{phone}: oi") for phone in phones))
    await until(container, lambda: idle(container))
    recipients = sorted(m.json["to"] for m in graph.messages if m.json)
    assert recipients == sorted(phones)


async def conversation_of(container: Container) -> Conversation:
    async with container.sessions() as session:
        found = await session.scalar(select(Conversation), execution_options={ALL_TENANTS: True})
    assert found is not None
    return found


async def events_of(container: Container) -> list[str]:
    async with container.sessions() as session:
        rows = await session.scalars(
            select(ConversationEvent.type).order_by(ConversationEvent.id),
            execution_options={ALL_TENANTS: True},
        )
        return list(rows)


async def test_that_after_a_handoff_the_bot_stays_silent(
    container: Container, seeded: Seeded, graph: FakeGraph
) -> None:
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        await post(client, "5511987654321", "quero falar com um atendente")
        await until(container, lambda: idle(container))
        assert (await conversation_of(container)).owner == "queued"
        await post(client, "5511987654321", "alô? tem alguém aí?")
        await until(container, lambda: idle(container))
    assert len(graph.messages) == 1
    assert "atendente humano" in graph.messages[0].json["text"]["body"]  # type: ignore[index]
    events = await events_of(container)
    assert "owner_changed" in events
    assert events[-1] == "bot_silent"


async def test_that_an_idle_session_expires_and_the_next_message_starts_a_new_one(
    container: Container, seeded: Seeded, graph: FakeGraph
) -> None:
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        await post(client, "5511987654321", "oi")
        await until(container, lambda: idle(container))
        before = await conversation_of(container)
        async with container.sessions() as session:
            await session.execute(
                update(Conversation)
                .values(last_activity_at=before.last_activity_at - timedelta(minutes=31))
                .execution_options(**{ALL_TENANTS: True})
            )
            await session.commit()
        await post(client, "5511987654321", "oi de novo")
        await until(container, lambda: idle(container))
    after = await conversation_of(container)
    assert after.session_id != before.session_id
    events = await events_of(container)
    assert events.count("session_started") == 2
    assert "session_expired" in events


async def test_that_a_session_within_the_timeout_is_kept(
    container: Container, seeded: Seeded, graph: FakeGraph
) -> None:
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        await post(client, "5511987654321", "oi")
        await until(container, lambda: idle(container))
        first = (await conversation_of(container)).session_id
        await post(client, "5511987654321", "tudo bem?")
        await until(container, lambda: idle(container))
    assert (await conversation_of(container)).session_id == first
    assert "session_expired" not in await events_of(container)


async def test_that_the_engine_sees_the_ids_the_turn_then_stores(
    echo_app: tuple[Container, httpx.AsyncClient], echo: EchoEngine
) -> None:
    container, client = echo_app
    await post(client, "5511987654321", "x: primeira mensagem")
    await until(container, lambda: idle(container))
    stored = await conversation_of(container)
    assert echo.ids == [(stored.id, stored.session_id)]
