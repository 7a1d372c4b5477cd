"""Outbound delivery: retries, permanent failures, the breaker, real retries, the 24-hour window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from atende.channels.types import TemplateContent, TextContent
from atende.conversations.models import Conversation, Message
from atende.devtools.fake_graph import FakeGraph, Reply
from atende.kit.breaker import BreakerState
from atende.kit.clock import utcnow
from atende.main import Container
from atende.outbox.models import DeliveryAttempt
from atende.outbox.sender import retry_failed
from atende.outbox.service import SEND, add_outbound
from atende.outbox.window import OUTSIDE_WINDOW
from atende.queue.port import Job
from atende.tenancy.scope import ALL_TENANTS, bind_tenant
from tests.support.app import Seeded, running, signed
from tests.support.payloads import body, text_message, webhook
from tests.support.waiting import all_messages, idle, until

PATH = "/webhooks/whatsapp/acme-whatsapp"


@pytest.fixture
async def client(container: Container, seeded: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    async with running(container) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def say(client: httpx.AsyncClient, wa_id: str = "5511987654321", text: str = "oi") -> None:
    raw = body(webhook([text_message(wa_id, text)]))
    response = await client.post(PATH, content=raw, headers=signed(raw))
    assert response.status_code == 200


async def outbound(container: Container) -> list[Message]:
    return [m for m in await all_messages(container) if m.direction == "out"]


async def attempts(container: Container) -> list[DeliveryAttempt]:
    async with container.sessions() as session:
        rows = await session.scalars(
            select(DeliveryAttempt).order_by(DeliveryAttempt.id),
            execution_options={ALL_TENANTS: True},
        )
        return list(rows)


async def test_that_500_and_429_are_retried_until_delivered_once(
    client: httpx.AsyncClient, container: Container, graph: FakeGraph
) -> None:
    graph.script(
        Reply.meta_error(500, 1, "An unknown error occurred"),
        Reply.meta_error(429, 130429, "Rate limit hit", headers={"Retry-After": "0"}),
    )
    await say(client)
    await until(container, lambda: idle(container))
    (message,) = await outbound(container)
    assert message.status == "sent"
    assert [a.outcome for a in await attempts(container)] == ["retry", "retry", "sent"]
    assert [a.http_status for a in await attempts(container)] == [500, 429, None]
    # Three requests reached the provider; only the last one was accepted.
    assert [r.status for r in graph.messages] == [500, 429, 200]


async def test_that_a_400_is_not_retried_and_keeps_its_code(
    client: httpx.AsyncClient, container: Container, graph: FakeGraph
) -> None:
    graph.script(Reply.meta_error(400, 131026, "Message undeliverable"))
    await say(client)
    await until(container, lambda: idle(container))
    (message,) = await outbound(container)
    assert message.status == "failed"
    assert message.error_code == "131026"
    assert [(a.outcome, a.http_status) for a in await attempts(container)] == [("failed", 400)]
    assert len(graph.messages) == 1

    # A failed message can be retried for real: it goes out again.
    await retry_failed(container.sessions, container.queue, message.tenant_id, message.id)
    await until(container, lambda: idle(container))
    (message,) = await outbound(container)
    assert message.status == "sent"
    assert len(graph.messages) == 2


async def test_that_the_breaker_opens_on_repeated_failures_and_recovers(
    client: httpx.AsyncClient, container: Container, graph: FakeGraph, seeded: Seeded
) -> None:
    threshold = container.settings.breaker_failure_threshold
    graph.script(*[Reply.meta_error(503, 2, "Service temporarily unavailable")] * threshold)
    breaker = container.outbox.breaker(seeded.whatsapp_id)
    await say(client)
    await graph.wait_for(lambda g: len(g.messages) >= threshold)
    await until(container, lambda: _opened(container, seeded))
    # Open: the next attempt waits for the reset instead of hammering the provider; then a
    # single trial goes through, succeeds, and the breaker closes.
    await until(container, lambda: idle(container))
    assert breaker.state is BreakerState.closed
    (message,) = await outbound(container)
    assert message.status == "sent"
    assert len(graph.messages) == threshold + 1


async def _opened(container: Container, seeded: Seeded) -> bool:
    return container.outbox.breaker(seeded.whatsapp_id).opened_count > 0


async def _queue_send(
    container: Container, seeded: Seeded, *contents: TextContent | TemplateContent, age: timedelta
) -> str:
    """A conversation whose customer last wrote ``age`` ago, with replies in its outbox."""
    async with container.sessions() as session:
        bind_tenant(session, seeded.tenant_id)
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id)
            .values(last_inbound_at=utcnow() - age)
        )
        await session.refresh(conversation)
        for content in contents:
            add_outbound(session, conversation, content, now=utcnow(), correlation_id=None)
        await session.commit()
        return conversation.id


async def test_that_free_text_is_refused_outside_the_24_hour_window_but_a_template_goes(
    client: httpx.AsyncClient, container: Container, graph: FakeGraph, seeded: Seeded
) -> None:
    await say(client)
    await until(container, lambda: idle(container))
    before = len(graph.messages)
    conversation_id = await _queue_send(
        container,
        seeded,
        TextContent("Seu pedido chegou!"),
        TemplateContent("pedido_entregue", body_parameters=("123",)),
        age=timedelta(hours=25),
    )
    await container.queue.enqueue(Job(SEND, conversation_id, seeded.tenant_id))
    await until(container, lambda: idle(container))
    late_text, template = (await outbound(container))[-2:]
    assert late_text.status == "refused"
    assert late_text.error_title == OUTSIDE_WINDOW
    assert template.status == "sent"
    assert len(graph.messages) == before + 1
    sent = graph.messages[-1].json
    assert sent is not None
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "pedido_entregue"


async def test_that_free_text_inside_the_window_goes_out(
    client: httpx.AsyncClient, container: Container, graph: FakeGraph, seeded: Seeded
) -> None:
    await say(client)
    await until(container, lambda: idle(container))
    conversation_id = await _queue_send(
        container, seeded, TextContent("Ainda por aqui!"), age=timedelta(hours=23)
    )
    await container.queue.enqueue(Job(SEND, conversation_id, seeded.tenant_id))
    await until(container, lambda: idle(container))
    assert (await outbound(container))[-1].status == "sent"


async def test_that_a_long_reply_is_split_into_ordered_messages(
    client: httpx.AsyncClient, container: Container, graph: FakeGraph, seeded: Seeded
) -> None:
    await say(client)
    await until(container, lambda: idle(container))
    paragraphs = [f"Parágrafo {n}: " + "palavra " * 300 for n in range(4)]
    conversation_id = await _queue_send(
        container, seeded, TextContent("\n\n".join(paragraphs)), age=timedelta(minutes=1)
    )
    await container.queue.enqueue(Job(SEND, conversation_id, seeded.tenant_id))
    await until(container, lambda: idle(container))
    bodies = [m.json["text"]["body"] for m in graph.messages[1:] if m.json]
    assert len(bodies) > 1
    assert all(len(b) <= 4096 for b in bodies)
    assert [b.split(":")[0] for b in bodies if b.startswith("Parágrafo")] == [
        f"Parágrafo {n}" for n in range(4)
    ]
