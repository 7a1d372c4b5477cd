"""The queue and lock ports. The embedded adapters live in ``memory.py``; Redis comes later.

Jobs are *notifications*, not payloads: a job says "conversation key K has work", and the handler
reads the work from the database under K's lock. That keeps the database the only source of truth,
makes duplicate or replayed jobs harmless, and lets a restart rebuild the queue from the database.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Job:
    #: Which worker handles it: "turn" (answer a contact) or "send" (deliver an outbox).
    kind: str
    #: Ordering key: jobs with the same key never run concurrently.
    key: str
    tenant_id: str
    correlation_id: str | None = None


class Delivery(Protocol):
    """A received job; acknowledge it once handled so a durable adapter can forget it."""

    job: Job

    async def ack(self) -> None: ...


class JobQueue(Protocol):
    async def enqueue(self, job: Job, *, delay: float = 0.0) -> None:
        """Publish a job. Call it only *after* the transaction that created the work committed."""

    async def receive(self, kind: str) -> Delivery:
        """Wait for the next job of ``kind``."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class LockProvider(Protocol):
    def lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """Hold ``key`` exclusively; waiters get it in arrival order."""
