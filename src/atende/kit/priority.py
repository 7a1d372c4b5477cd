"""Webhooks first: on SQLite, one connection serves everything, so a worker that takes it while
webhooks wait makes the provider wait. Workers call :meth:`IngestFirst.yield_to_ingest` before
they open a session; it returns at once when no webhook is waiting, or after the current webhook
batch is stored, never later than ``max_wait`` (so workers still progress under a flood)."""

from __future__ import annotations

import asyncio
import contextlib


class IngestFirst:
    def __init__(self, max_wait: float = 0.05) -> None:
        self._idle = asyncio.Event()
        self._idle.set()
        self._max_wait = max_wait

    def busy(self) -> None:
        self._idle.clear()

    def idle(self) -> None:
        self._idle.set()

    async def yield_to_ingest(self) -> None:
        if self._idle.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._max_wait):
                await self._idle.wait()
