"""`atende outbox retry` as an operator runs it: a real process, a message that really failed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from atende.config import Settings
from atende.conversations.models import Message
from atende.devtools.fake_graph import FakeGraph, Reply
from atende.kit.db import create_engine, session_factory
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS
from tests.support.app import Seeded, running, signed
from tests.support.payloads import body, text_message, webhook
from tests.support.process import env_for, run
from tests.support.waiting import all_messages, idle, until


async def _outbound(settings: Settings) -> list[Message]:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(
                select(Message).where(Message.direction == "out").order_by(Message.id),
                execution_options={ALL_TENANTS: True},
            )
            return list(rows)
    finally:
        await engine.dispose()


async def _fail_one_reply(container: Container, graph: FakeGraph) -> int:
    """The customer writes; the provider refuses the reply for good (a 400)."""
    graph.script(Reply.meta_error(400, 131026, "Message undeliverable"))
    raw = body(webhook([text_message("5511987654321", "oi")]))
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/webhooks/whatsapp/acme-whatsapp", content=raw, headers=signed(raw)
        )
        assert response.status_code == 200
        await until(container, lambda: idle(container))
        (message,) = [m for m in await all_messages(container) if m.direction == "out"]
    assert message.status == "failed"
    return message.id


async def test_that_outbox_retry_sends_a_failed_message_again(
    container: Container, graph: FakeGraph, seeded: Seeded, settings: Settings, tmp_path: Path
) -> None:
    message_id = await _fail_one_reply(container, graph)
    env = env_for(settings.database_url, settings.var_dir)
    # A thread, so that this loop keeps serving the fake Graph API while the command runs.
    out = await asyncio.to_thread(
        run, ["outbox", "retry", str(message_id), "--tenant", "acme"], env
    )
    assert f"message {message_id} sent" in out
    (message,) = await _outbound(settings)
    assert message.status == "sent"
    assert [r.status for r in graph.messages] == [400, 200]
    assert (graph.messages[-1].json or {}).get("to") == "5511987654321"


async def test_that_outbox_retry_keeps_a_message_the_provider_still_cannot_take(
    container: Container, graph: FakeGraph, seeded: Seeded, settings: Settings
) -> None:
    message_id = await _fail_one_reply(container, graph)
    graph.script(Reply.meta_error(503, 2, "Service temporarily unavailable"))
    env = env_for(settings.database_url, settings.var_dir)
    out = await asyncio.to_thread(
        run, ["outbox", "retry", str(message_id), "--tenant", "acme"], env
    )
    # Back in the outbox, for a running server's sweep: not failed, not lost.
    assert "back in the outbox" in out
    (message,) = await _outbound(settings)
    assert message.status == "pending"


@pytest.mark.parametrize("wrong", ["999999", "--tenant=nope 1"])
async def test_that_outbox_retry_explains_in_one_line_what_it_cannot_retry(
    seeded: Seeded, settings: Settings, wrong: str
) -> None:
    env = env_for(settings.database_url, settings.var_dir)
    with pytest.raises(AssertionError) as failure:
        await asyncio.to_thread(run, ["outbox", "retry", *wrong.split()], env)
    assert "Traceback" not in str(failure.value)
    assert "Error: no " in str(failure.value)
