from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import pytest
from prometheus_client import REGISTRY

from atende.queue.memory import MemoryLocks, MemoryQueue
from atende.queue.port import Job
from atende.queue.worker import GiveUp, Handler, Retry, Worker

TURN = "turn"
TENANT = "tenant-1"


@pytest.fixture
async def queue() -> AsyncIterator[MemoryQueue]:
    queue = MemoryQueue()
    yield queue
    await queue.close()


@pytest.fixture
def locks() -> MemoryLocks:
    return MemoryLocks()


@asynccontextmanager
async def running(
    queue: MemoryQueue,
    locks: MemoryLocks,
    handler: Handler,
    *,
    concurrency: int,
    retry_delay: float = 1.0,
    max_attempts: int = 8,
    give_up: GiveUp | None = None,
) -> AsyncIterator[Worker]:
    worker = Worker(
        kind=TURN,
        queue=queue,
        locks=locks,
        handler=handler,
        concurrency=concurrency,
        retry=Retry(max_attempts=max_attempts, base=retry_delay, ceiling=retry_delay),
        give_up=give_up,
    )
    worker.start()
    try:
        async with asyncio.timeout(5):
            yield worker
    finally:
        await worker.stop()


async def _job(key: str, correlation_id: str | None = None) -> Job:
    return Job(kind=TURN, key=key, tenant_id=TENANT, correlation_id=correlation_id)


def _worker_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(f"{TURN}-worker-")]


async def test_that_jobs_of_one_key_never_overlap_and_run_in_order(
    queue: MemoryQueue, locks: MemoryLocks
) -> None:
    started: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
    release: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
    finished: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
    probed: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
    order: list[str | None] = []
    active = 0
    most_active = 0

    async def handler(job: Job) -> None:
        nonlocal active, most_active
        if job.key.startswith("probe"):
            probed[job.key].set()
            return
        active += 1
        most_active = max(most_active, active)
        order.append(job.correlation_id)
        assert job.correlation_id is not None
        started[job.correlation_id].set()
        await release[job.correlation_id].wait()
        active -= 1
        finished[job.correlation_id].set()

    async with running(queue, locks, handler, concurrency=4) as worker:
        await queue.enqueue(await _job("conv-1", "1"))
        await started["1"].wait()
        for n in ("2", "3"):
            await queue.enqueue(await _job("conv-1", n))
            # FIFO per kind: once the probe behind it was handled, job n was taken by a
            # consumer, which is now waiting for the key's lock.
            await queue.enqueue(await _job(f"probe-{n}"))
            await probed[f"probe-{n}"].wait()

        assert order == ["1"]
        assert worker.busy == 3  # job 1 running, jobs 2 and 3 received and waiting

        release["1"].set()
        await started["2"].wait()
        assert order == ["1", "2"]
        release["2"].set()
        await started["3"].wait()
        release["3"].set()
        await finished["3"].wait()

    assert order == ["1", "2", "3"]
    assert most_active == 1


async def test_that_jobs_of_different_keys_run_at_the_same_time(
    queue: MemoryQueue, locks: MemoryLocks
) -> None:
    inside = {"conv-a": asyncio.Event(), "conv-b": asyncio.Event()}
    done = {"conv-a": asyncio.Event(), "conv-b": asyncio.Event()}
    busy_seen: list[int] = []

    async def handler(job: Job) -> None:
        other = "conv-b" if job.key == "conv-a" else "conv-a"
        inside[job.key].set()
        # Each handler waits for the other one to be inside: only overlap lets both finish.
        await inside[other].wait()
        busy_seen.append(worker.busy)
        done[job.key].set()

    async with running(queue, locks, handler, concurrency=2) as worker:
        await queue.enqueue(await _job("conv-a"))
        await queue.enqueue(await _job("conv-b"))
        await done["conv-a"].wait()
        await done["conv-b"].wait()

    assert busy_seen[0] == 2


async def test_that_a_failing_job_is_retried_by_re_enqueueing_it(
    queue: MemoryQueue, locks: MemoryLocks
) -> None:
    calls: list[Job] = []
    succeeded = asyncio.Event()

    async def handler(job: Job) -> None:
        calls.append(job)
        if len(calls) == 1:
            raise RuntimeError("database is down")
        succeeded.set()

    job = await _job("conv-1", "corr-1")
    async with running(queue, locks, handler, concurrency=1, retry_delay=0.01) as worker:
        await queue.enqueue(job)
        await succeeded.wait()

        assert calls == [job, job]
        assert worker.busy == 0
    assert locks.held() == 0


async def test_that_a_failing_key_does_not_hold_up_other_keys(
    queue: MemoryQueue, locks: MemoryLocks
) -> None:
    healthy = asyncio.Event()

    async def handler(job: Job) -> None:
        if job.key == "conv-broken":
            raise RuntimeError("always broken")
        healthy.set()

    async with running(queue, locks, handler, concurrency=1, retry_delay=0.01):
        await queue.enqueue(await _job("conv-broken"))
        await queue.enqueue(await _job("conv-ok"))
        await healthy.wait()


async def test_that_stop_cancels_the_consumers_and_the_running_handler(
    queue: MemoryQueue, locks: MemoryLocks
) -> None:
    inside = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(job: Job) -> None:
        del job
        inside.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    worker = Worker(kind=TURN, queue=queue, locks=locks, handler=handler, concurrency=3)
    worker.start()
    async with asyncio.timeout(5):
        await queue.enqueue(await _job("conv-1"))
        await inside.wait()
        assert len(_worker_tasks()) == 3

        await worker.stop()

    assert cancelled.is_set()
    assert _worker_tasks() == []
    assert worker.busy == 0
    assert locks.held() == 0
    # A cancelled job is not retried: recovery from the database picks it up on the next start.
    assert queue.depth(TURN) == 0


def _gave_up() -> float:
    sample = REGISTRY.get_sample_value(
        "atende_job_failures_total", {"kind": TURN, "outcome": "gave_up"}
    )
    return sample or 0.0


async def test_that_a_job_that_always_fails_is_given_up_after_the_cap(
    queue: MemoryQueue, locks: MemoryLocks
) -> None:
    calls: list[Job] = []
    given_up: list[Job] = []
    done = asyncio.Event()

    async def handler(job: Job) -> None:
        calls.append(job)
        raise RuntimeError("poison")

    async def give_up(job: Job, since: datetime) -> int:
        del since
        given_up.append(job)
        done.set()
        return 0

    before = _gave_up()
    job = await _job("conv-poison", "corr-1")
    async with running(
        queue, locks, handler, concurrency=1, retry_delay=0.001, max_attempts=4, give_up=give_up
    ):
        await queue.enqueue(job)
        await done.wait()
        # Given up with nothing marked: no attempt is scheduled any more.
        assert queue.depth(TURN) == 0
        assert queue.scheduled() == 0
    assert calls == [job] * 4
    assert given_up == [job]
    assert _gave_up() == before + 1


async def test_that_a_success_resets_the_count_of_failures(
    queue: MemoryQueue, locks: MemoryLocks
) -> None:
    # Two failures, a success, two failures, a success: never three in a row, never given up.
    outcomes = iter(["fail", "fail", "ok", "fail", "fail", "ok"])
    succeeded = {"first": asyncio.Event(), "second": asyncio.Event()}
    given_up: list[Job] = []

    async def handler(job: Job) -> None:
        if next(outcomes) == "fail":
            raise RuntimeError("flaky")
        assert job.correlation_id is not None
        succeeded[job.correlation_id].set()

    async def give_up(job: Job, since: datetime) -> int:
        del since
        given_up.append(job)
        return 0

    async with running(
        queue, locks, handler, concurrency=1, retry_delay=0.001, max_attempts=3, give_up=give_up
    ):
        await queue.enqueue(await _job("conv-1", "first"))
        await succeeded["first"].wait()
        await queue.enqueue(await _job("conv-1", "second"))
        await succeeded["second"].wait()
    assert given_up == []


async def test_that_work_given_up_lets_the_rest_of_the_key_go_on(
    queue: MemoryQueue, locks: MemoryLocks
) -> None:
    """The hook marked the poison failed: the job runs again at once for what it held up."""
    poisoned = True
    after = asyncio.Event()

    async def handler(job: Job) -> None:
        del job
        if poisoned:
            raise RuntimeError("poison")
        after.set()

    async def give_up(job: Job, since: datetime) -> int:
        nonlocal poisoned
        del job, since
        poisoned = False
        return 1

    async with running(
        queue, locks, handler, concurrency=1, retry_delay=0.001, max_attempts=2, give_up=give_up
    ):
        await queue.enqueue(await _job("conv-1"))
        await after.wait()


class FlakyLocks(MemoryLocks):
    """A lock service that fails once (Redis restarting, say)."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    @asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        if not self.failed:
            self.failed = True
            raise ConnectionError("lock service unavailable")
        async with super().lock(key):
            yield


async def test_that_a_lock_that_fails_neither_kills_the_consumer_nor_loses_the_job(
    queue: MemoryQueue,
) -> None:
    ran = asyncio.Event()

    async def handler(job: Job) -> None:
        del job
        ran.set()

    locks = FlakyLocks()
    async with running(queue, locks, handler, concurrency=1, retry_delay=0.001):
        await queue.enqueue(await _job("conv-1"))
        await ran.wait()
    assert locks.failed
