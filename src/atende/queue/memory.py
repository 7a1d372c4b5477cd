"""In-process queue and locks: the embedded default for a single process.

Nothing here is durable, and it does not need to be: every job stands for rows in the database
(pending inbound messages, pending outbound messages), and on start the worker re-enqueues them
(``atende.pipeline.recover``).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from atende.queue.port import Job


@dataclass(slots=True)
class MemoryDelivery:
    job: Job
    _queue: MemoryQueue = field(repr=False)

    async def ack(self) -> None:
        return None


class MemoryQueue:
    """One FIFO per job kind. A job is coalesced into one for the same (kind, key) that is already
    waiting or scheduled to run no later: the handler reads all of the key's pending work anyway.
    (Without this, a customer typing fast would schedule one delayed burst check per fragment.)"""

    def __init__(self) -> None:
        self._queues: defaultdict[str, asyncio.Queue[Job]] = defaultdict(asyncio.Queue)
        self._waiting: set[tuple[str, str]] = set()
        self._scheduled: dict[tuple[str, str], tuple[float, asyncio.TimerHandle]] = {}
        self._closed = False

    async def enqueue(self, job: Job, *, delay: float = 0.0) -> None:
        marker = (job.kind, job.key)
        if self._closed or marker in self._waiting:
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + max(0.0, delay)
        earlier = self._scheduled.get(marker)
        if earlier is not None:
            if earlier[0] <= due:
                return
            earlier[1].cancel()
            del self._scheduled[marker]
        if delay <= 0:
            self._put(job)
            return

        def fire() -> None:
            self._scheduled.pop(marker, None)
            self._put(job)

        self._scheduled[marker] = (due, loop.call_at(due, fire))

    def _put(self, job: Job) -> None:
        marker = (job.kind, job.key)
        if self._closed or marker in self._waiting:
            return
        self._waiting.add(marker)
        self._queues[job.kind].put_nowait(job)

    async def receive(self, kind: str) -> MemoryDelivery:
        job = await self._queues[kind].get()
        self._waiting.discard((job.kind, job.key))
        return MemoryDelivery(job, self)

    def depth(self, kind: str) -> int:
        return self._queues[kind].qsize()

    def scheduled(self) -> int:
        """Jobs waiting for their delay (retries, burst checks) to pass."""
        return len(self._scheduled)

    async def ping(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        self._closed = True
        for _, handle in self._scheduled.values():
            handle.cancel()
        self._scheduled.clear()


class MemoryLocks:
    """A lock per key, created on demand and dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: defaultdict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                self._locks.pop(key, None)

    def held(self) -> int:
        return len(self._locks)
