"""SIGKILL the server in the middle of many conversations: after a restart, every message it
acknowledged gets exactly one answer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from atende.channels.whatsapp.verify import sign
from atende.devtools.fake_graph import FakeGraph
from atende.kit.db import create_engine, session_factory
from atende.outbox.models import DeliveryAttempt
from atende.tenancy.scope import ALL_TENANTS
from tests.support.app import PHONE_NUMBER_ID
from tests.support.payloads import body, text_message, webhook
from tests.support.process import Server, env_for, free_port, run
from tests.support.waiting import pending_work

CUSTOMERS = 160
KILL_AFTER = 60


async def _pending(database_url: str) -> tuple[int, int, int]:
    """Unanswered, unsent, and attempts left in doubt by the killed process."""
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        unanswered, unsent = await pending_work(sessions)
        async with sessions() as session:
            in_doubt = await session.scalar(
                select(func.count())
                .select_from(DeliveryAttempt)
                .where(DeliveryAttempt.outcome == "in_doubt"),
                execution_options={ALL_TENANTS: True},
            )
    finally:
        await engine.dispose()
    return unanswered, unsent, int(in_doubt or 0)


async def test_that_a_killed_server_loses_and_duplicates_nothing(
    database_url: str, tmp_path: Path
) -> None:
    # The provider answers slowly, so replies are in flight when the server dies.
    async with FakeGraph(latency=0.02) as graph:
        env = env_for(
            database_url,
            tmp_path / "var",
            ATENDE_BURST_WINDOW_SECONDS="0",
            ATENDE_DEMO_WHATSAPP_GRAPH_URL=graph.url,
            ATENDE_DEMO_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        )
        run(["migrate"], env)
        run(["demo"], env)
        secret = "demo-app-secret"
        port = free_port()
        first = Server(env, port, tmp_path / "first.log")
        first.start()
        acknowledged: list[str] = []
        try:
            await first.ready()
            killed = asyncio.Event()

            async def customer(n: int, client: httpx.AsyncClient) -> None:
                wa_id = f"55119{n:08d}"
                raw = body(webhook([text_message(wa_id, "oi, tudo bem?")]))
                headers = {"X-Hub-Signature-256": sign(secret, raw)}
                try:
                    response = await client.post(
                        f"{first.url}/webhooks/whatsapp/demo-whatsapp",
                        content=raw,
                        headers=headers,
                        timeout=5,
                    )
                except httpx.TransportError:
                    return  # never acknowledged: Meta would deliver it again later
                if response.status_code == 200:
                    acknowledged.append(wa_id)
                    if len(acknowledged) == KILL_AFTER:
                        first.kill()
                        killed.set()

            limits = httpx.Limits(max_connections=16)
            async with httpx.AsyncClient(limits=limits) as client:
                await asyncio.gather(*(customer(n, client) for n in range(CUSTOMERS)))
            assert killed.is_set()
        finally:
            first.kill()
        answered_before_restart = {m.json["to"] for m in graph.messages if m.json}
        assert len(answered_before_restart) < len(acknowledged), "the kill came too late"

        second = Server(env, port, tmp_path / "second.log")
        second.start()
        try:
            await second.ready()
            await graph.wait_for(
                lambda g: set(acknowledged) <= {m.json["to"] for m in g.messages if m.json},
                timeout=60,
            )
            deadline = time.monotonic() + 60
            while (state := await _pending(database_url))[:2] != (0, 0):
                assert time.monotonic() < deadline, f"still pending: {state}"
                await asyncio.sleep(0.1)  # polling another process's database: no event to await
        finally:
            second.stop()

    per_customer: dict[str, int] = {}
    for message in graph.messages:
        if message.json and message.status == 200:
            per_customer[message.json["to"]] = per_customer.get(message.json["to"], 0) + 1
    missing = [wa_id for wa_id in acknowledged if per_customer.get(wa_id, 0) == 0]
    assert missing == []
    # An attempt cut off mid-call may have reached the provider (WhatsApp has no idempotency
    # key), so it is sent again; it is recorded as "in doubt". Nothing else may duplicate.
    _, _, in_doubt = await _pending(database_url)
    duplicates = sum(count - 1 for count in per_customer.values() if count > 1)
    assert duplicates <= in_doubt
