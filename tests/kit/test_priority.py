"""Workers give way to webhooks on SQLite's single connection, but never wait forever."""

from __future__ import annotations

import asyncio

from atende.kit.priority import IngestFirst


async def test_that_workers_pass_at_once_when_no_webhook_waits() -> None:
    gate = IngestFirst(max_wait=30.0)
    await asyncio.wait_for(gate.yield_to_ingest(), timeout=1)


async def test_that_workers_wait_for_the_webhook_batch_to_be_stored() -> None:
    gate = IngestFirst(max_wait=30.0)
    gate.busy()
    waiting = asyncio.create_task(gate.yield_to_ingest())
    await asyncio.sleep(0)  # let the worker reach the gate
    assert not waiting.done()
    gate.idle()
    await asyncio.wait_for(waiting, timeout=1)


async def test_that_a_flood_of_webhooks_delays_workers_only_boundedly() -> None:
    gate = IngestFirst(max_wait=0.01)
    gate.busy()  # and never idle again
    await asyncio.wait_for(gate.yield_to_ingest(), timeout=1)
