"""Change notifications inside one process ("something happened to conversation X").

Waiters read a version, check the database, and wait for the version to move, so a notification
that lands between the check and the wait is never lost. The Redis adapter (pub/sub) will carry the
same calls between processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol


class Notifier(Protocol):
    def version(self) -> int: ...

    async def publish(self, topic: str) -> None: ...

    async def wait_change(self, since: int, timeout: float) -> bool: ...


class MemoryNotifier:
    def __init__(self) -> None:
        self._version = 0
        self._changed = asyncio.Condition()

    def version(self) -> int:
        return self._version

    async def publish(self, topic: str) -> None:
        # The topic is unused in-process (every waiter re-checks); Redis will route by it.
        del topic
        async with self._changed:
            self._version += 1
            self._changed.notify_all()

    async def wait_change(self, since: int, timeout: float) -> bool:
        """True if something changed after ``since`` within ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self._version > since)
        return self._version > since
