from __future__ import annotations

import asyncio

import pytest

from atende.queue.memory import MemoryLocks, MemoryQueue
from atende.queue.port import Job

TURN = "turn"
SEND = "send"


async def _job(kind: str = TURN, key: str = "conv-1", correlation_id: str | None = None) -> Job:
    return Job(kind=kind, key=key, tenant_id="tenant-1", correlation_id=correlation_id)


async def _receive(queue: MemoryQueue, kind: str, timeout: float = 2.0) -> Job:
    delivery = await asyncio.wait_for(queue.receive(kind), timeout)
    await delivery.ack()
    return delivery.job


async def test_that_jobs_of_one_kind_come_out_in_arrival_order() -> None:
    queue = MemoryQueue()
    jobs = [await _job(key=f"conv-{i}") for i in range(5)]
    for job in jobs:
        await queue.enqueue(job)

    received = [await _receive(queue, TURN) for _ in jobs]

    assert received == jobs
    assert queue.depth(TURN) == 0


async def test_that_kinds_are_independent_queues() -> None:
    queue = MemoryQueue()
    turn = await _job(TURN, "conv-1")
    send = await _job(SEND, "conv-1")
    await queue.enqueue(turn)
    await queue.enqueue(send)

    # The send job is not stuck behind the turn job, and the same key in two kinds is two jobs.
    assert await _receive(queue, SEND) == send
    assert queue.depth(TURN) == 1
    assert await _receive(queue, TURN) == turn


async def test_that_a_job_whose_key_is_already_waiting_is_coalesced() -> None:
    queue = MemoryQueue()
    first = await _job(key="conv-1", correlation_id="first")
    other = await _job(key="conv-2")
    await queue.enqueue(first)
    await queue.enqueue(other)
    await queue.enqueue(await _job(key="conv-1", correlation_id="second"))

    assert queue.depth(TURN) == 2
    assert await _receive(queue, TURN) == first
    assert await _receive(queue, TURN) == other
    assert queue.depth(TURN) == 0


async def test_that_a_job_for_a_key_already_received_is_queued_again() -> None:
    queue = MemoryQueue()
    await queue.enqueue(await _job(correlation_id="first"))
    assert (await _receive(queue, TURN)).correlation_id == "first"

    # The first one is being handled; new work for the key must not be lost.
    await queue.enqueue(await _job(correlation_id="second"))

    assert queue.depth(TURN) == 1
    assert (await _receive(queue, TURN)).correlation_id == "second"


async def test_that_a_delayed_job_arrives_later() -> None:
    queue = MemoryQueue()
    job = await _job()

    await queue.enqueue(job, delay=0.01)

    assert queue.depth(TURN) == 0
    assert await _receive(queue, TURN) == job


async def test_that_a_delayed_job_is_coalesced_when_its_key_is_waiting() -> None:
    queue = MemoryQueue()
    now = await _job(correlation_id="now")
    await queue.enqueue(now)
    await queue.enqueue(await _job(correlation_id="later"), delay=0.01)
    # Timers fire in deadline order: once the tick arrives, the delayed job has fired too.
    await queue.enqueue(await _job(kind="tick"), delay=0.02)
    await _receive(queue, "tick")

    assert queue.depth(TURN) == 1
    assert await _receive(queue, TURN) == now


async def test_that_close_drops_pending_timers_and_later_enqueues() -> None:
    queue = MemoryQueue()
    await queue.enqueue(await _job(key="conv-delayed"), delay=0.01)

    await queue.close()
    await queue.enqueue(await _job(key="conv-after"))

    assert queue.depth(TURN) == 0
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.receive(TURN), 0.05)
    assert queue.depth(TURN) == 0


async def test_that_ping_reports_open_until_closed() -> None:
    queue = MemoryQueue()

    assert await queue.ping()
    await queue.close()
    assert not await queue.ping()


async def test_that_one_key_is_held_by_one_holder_at_a_time() -> None:
    locks = MemoryLocks()
    order: list[str] = []
    first_inside = asyncio.Event()
    release_first = asyncio.Event()
    second_trying = asyncio.Event()

    async def first() -> None:
        async with locks.lock("conv-1"):
            order.append("first in")
            first_inside.set()
            await release_first.wait()
            order.append("first out")

    async def second() -> None:
        await first_inside.wait()
        second_trying.set()
        async with locks.lock("conv-1"):
            order.append("second in")
        order.append("second out")

    async with asyncio.timeout(5), asyncio.TaskGroup() as group:
        group.create_task(first())
        group.create_task(second())
        # second() set the event and ran on into the lock before this task resumed.
        await second_trying.wait()
        assert order == ["first in"]
        assert locks.held() == 1
        release_first.set()

    assert order == ["first in", "first out", "second in", "second out"]
    assert locks.held() == 0


async def test_that_waiters_for_one_key_get_it_in_arrival_order() -> None:
    locks = MemoryLocks()
    order: list[int] = []
    release = asyncio.Event()
    holding = asyncio.Event()

    async def holder() -> None:
        async with locks.lock("conv-1"):
            holding.set()
            await release.wait()

    trying = [asyncio.Event() for _ in range(5)]

    async def waiter(n: int) -> None:
        trying[n].set()
        async with locks.lock("conv-1"):
            order.append(n)

    async with asyncio.timeout(5), asyncio.TaskGroup() as group:
        group.create_task(holder())
        await holding.wait()
        for n in range(5):
            group.create_task(waiter(n))
            await trying[n].wait()  # waiter n is queued on the lock before n + 1 starts
        assert order == []
        release.set()

    assert order == [0, 1, 2, 3, 4]
    assert locks.held() == 0


async def test_that_different_keys_are_held_concurrently() -> None:
    locks = MemoryLocks()
    inside = {"conv-1": asyncio.Event(), "conv-2": asyncio.Event()}
    seen_held: list[int] = []

    async def hold(key: str, other: str) -> None:
        async with locks.lock(key):
            inside[key].set()
            # Only finishes if the other key's holder is inside at the same time.
            await inside[other].wait()
            seen_held.append(locks.held())

    async with asyncio.timeout(5), asyncio.TaskGroup() as group:
        group.create_task(hold("conv-1", "conv-2"))
        group.create_task(hold("conv-2", "conv-1"))

    assert seen_held[0] == 2
    assert locks.held() == 0


async def test_that_a_lock_entry_is_dropped_when_its_holder_raises() -> None:
    locks = MemoryLocks()
    held_inside: list[int] = []

    async def broken_handler() -> None:
        async with locks.lock("conv-1"):
            held_inside.append(locks.held())
            raise RuntimeError("handler broke")

    with pytest.raises(RuntimeError, match="handler broke"):
        await broken_handler()

    assert held_inside == [1]
    assert locks.held() == 0
    async with asyncio.timeout(1), locks.lock("conv-1"):  # and the key is usable again
        assert locks.held() == 1


async def test_that_a_cancelled_waiter_does_not_leak_its_lock_entry() -> None:
    locks = MemoryLocks()
    holding = asyncio.Event()
    release = asyncio.Event()
    waiting = asyncio.Event()

    async def holder() -> None:
        async with locks.lock("conv-1"):
            holding.set()
            await release.wait()

    async def waiter() -> None:
        waiting.set()
        async with locks.lock("conv-1"):
            pytest.fail("a cancelled waiter must never get the lock")

    async with asyncio.timeout(5):
        held = asyncio.create_task(holder())
        await holding.wait()
        blocked = asyncio.create_task(waiter())
        await waiting.wait()
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked
        release.set()
        await held

    assert locks.held() == 0


async def test_that_a_later_delayed_job_is_coalesced_into_an_earlier_one() -> None:
    queue = MemoryQueue()
    job = Job(kind="turn", key="c1", tenant_id="t")
    await queue.enqueue(job, delay=0.01)
    await queue.enqueue(job, delay=30.0)  # later than the one already scheduled: dropped
    received = await asyncio.wait_for(queue.receive("turn"), timeout=5)
    assert received.job == job
    assert queue.depth("turn") == 0
    await queue.close()


async def test_that_an_immediate_job_replaces_a_later_scheduled_one() -> None:
    queue = MemoryQueue()
    job = Job(kind="send", key="c1", tenant_id="t")
    await queue.enqueue(job, delay=30.0)
    await queue.enqueue(job)  # due now: runs now, and the 30 s timer is cancelled
    received = await asyncio.wait_for(queue.receive("send"), timeout=1)
    assert received.job == job
    await queue.enqueue(job, delay=0.01)  # the old timer no longer blocks a new schedule
    again = await asyncio.wait_for(queue.receive("send"), timeout=5)
    assert again.job == job
    await queue.close()
