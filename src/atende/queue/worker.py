"""Thin workers: take a job, hold its key's lock, call the handler, acknowledge."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from atende.kit.logging import get_logger
from atende.queue.port import Job, JobQueue, LockProvider

log = get_logger(__name__)

Handler = Callable[[Job], Awaitable[None]]


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
        retry_delay: float = 1.0,
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
        self._retry_delay = retry_delay
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
                        await self._handler(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The work is still pending in the database: try again later rather than lose it.
                log.exception("job failed; retrying", job_kind=job.kind, retry_in=self._retry_delay)
                await self._queue.enqueue(job, delay=self._retry_delay)
            finally:
                self.busy -= 1
                await delivery.ack()
