"""Thin workers: take a job, hold its key's lock, call the handler, acknowledge.

A handler that raises is tried again with exponential backoff, a bounded number of times: the
work is still in the database, and most failures (a database restart, a lock timeout) pass. A
job that keeps failing is *given up*: the worker calls the kind's ``give_up`` hook, which marks
the work failed in the database (so no sweep brings it back), counts it in
``atende_job_failures_total`` and logs one error. Nothing is retried forever.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from prometheus_client import Counter

from atende.kit.clock import utcnow
from atende.kit.logging import get_logger
from atende.queue.port import Job, JobQueue, LockProvider

log = get_logger(__name__)

Handler = Callable[[Job], Awaitable[None]]
#: Marks a job's work failed: what was there when the job first failed (``since``), so work that
#: arrived during the retries (a contact's next message) is not failed with it. Returns how many
#: items it marked (0: nothing to give up).
GiveUp = Callable[[Job, datetime], Awaitable[int]]

JOB_FAILURES = Counter(
    "atende_job_failures_total",
    "Jobs whose handler raised, by kind and outcome (retried, gave_up).",
    ["kind", "outcome"],
)

#: A generator of our own, so jitter neither depends on nor disturbs the global random state.
_jitter = random.Random()  # noqa: S311 - jitter, not cryptography


@dataclass(frozen=True, slots=True)
class Retry:
    """How a failing job is tried again: ``base`` seconds, doubling up to ``ceiling``, with
    jitter (many keys failing together, say in a database restart, must not come back in step);
    ``max_attempts`` failures in a row and it is given up."""

    max_attempts: int = 8
    base: float = 1.0
    ceiling: float = 300.0

    def delay(self, failures: int) -> float:
        top = min(self.ceiling, self.base * 2 ** max(0, failures - 1))
        return _jitter.uniform(top / 2, top)


class Worker:
    """Runs ``concurrency`` consumers of one job kind. Jobs of one key run one at a time, in order;
    different keys run concurrently."""

    def __init__(
        self,
        *,
        kind: str,
        queue: JobQueue,
        locks: LockProvider,
        handler: Handler,
        concurrency: int,
        retry: Retry | None = None,
        give_up: GiveUp | None = None,
        lock_as: str | None = None,
    ) -> None:
        self.kind = kind
        #: Jobs lock ``{lock_as}:{key}``: a kind that must never run beside another kind's job of
        #: the same key (a resumed request beside its conversation's turn) shares that kind's lock.
        self._lock_kind = lock_as or kind
        self._queue = queue
        self._locks = locks
        self._handler = handler
        self._concurrency = concurrency
        self._retry = retry or Retry()
        self._give_up = give_up
        #: Failures in a row per key and when the first of them happened, reset by a success.
        #: In memory: after a restart a failing job gets its attempts again, which stays bounded.
        self._failures: dict[str, tuple[int, datetime]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.busy = 0

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._consume(), name=f"{self.kind}-worker-{i}")
            for i in range(self._concurrency)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _consume(self) -> None:
        while True:
            delivery = await self._queue.receive(self.kind)
            job = delivery.job
            self.busy += 1
            try:
                # conversation_id is bound by handlers once known; listing it here resets it
                # when the job ends, so it never leaks into the next job's lines.
                with structlog.contextvars.bound_contextvars(
                    correlation_id=job.correlation_id,
                    tenant_id=job.tenant_id,
                    job=job.kind,
                    conversation_id=None,
                ):
                    async with self._locks.lock(f"{self._lock_kind}:{job.key}"):
                        try:
                            await self._handler(job)
                        except asyncio.CancelledError:
                            raise
                        except Exception as error:
                            await self._failed(job, error)
                        else:
                            self._failures.pop(job.key, None)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Not the handler: the lock or the retry itself failed (a lock service down).
                # The consumer must survive it, and the work is still pending in the database.
                log.exception("job could not be run; retrying", job_kind=job.kind)
                await self._queue.enqueue(job, delay=self._retry.delay(1))
            finally:
                self.busy -= 1
                await delivery.ack()

    async def _failed(self, job: Job, error: Exception) -> None:
        """Under the key's lock: schedule the next attempt, or give the job up."""
        failures, since = self._failures.get(job.key, (0, utcnow()))
        failures += 1
        if failures < self._retry.max_attempts:
            self._failures[job.key] = (failures, since)
            delay = self._retry.delay(failures)
            JOB_FAILURES.labels(kind=self.kind, outcome="retried").inc()
            fields = {"job_kind": job.kind, "attempt": failures, "retry_in": round(delay, 3)}
            if failures == 1:  # the traceback once per streak, not once per attempt
                log.exception("job failed; retrying", **fields)
            else:
                log.warning("job failed again; retrying", error=type(error).__name__, **fields)
            await self._queue.enqueue(job, delay=delay)
            return
        self._failures.pop(job.key, None)
        JOB_FAILURES.labels(kind=self.kind, outcome="gave_up").inc()
        marked = 0
        if self._give_up is not None:
            try:
                marked = await self._give_up(job, since)
            except Exception:
                # Most likely the database is down: the work stays pending and the recovery
                # sweep brings the job back (a new streak) once it is reachable again.
                log.exception("a failed job could not be marked failed", job_kind=job.kind)
                return
        log.error(
            "job failed too many times; given up",
            job_kind=job.kind,
            attempts=failures,
            error=type(error).__name__,
            marked_failed=marked,
        )
        if marked:
            # What the failed work held up (later messages of the same contact, the next
            # outbound message) goes on now.
            await self._queue.enqueue(job)
