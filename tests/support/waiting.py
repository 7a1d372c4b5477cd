"""Waiting for the pipeline without sleeps: re-check a condition each time the pipeline reports a
change (the container's notifier), up to a deadline."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.conversations.models import Message
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS


async def until(
    container: Container, check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        since = container.notifier.version()
        if await check():
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the pipeline did not reach the expected state in time")
        await container.notifier.wait_change(since, remaining)


async def count_messages(container: Container, **where: Any) -> int:
    async with container.sessions() as session:
        stmt = select(func.count()).select_from(Message)
        for key, value in where.items():
            stmt = stmt.where(getattr(Message, key) == value)
        return int(await session.scalar(stmt, execution_options={ALL_TENANTS: True}) or 0)


async def pending_work(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """(inbound messages not yet answered, outbound messages not yet sent)."""
    async with sessions() as session:
        options = {ALL_TENANTS: True}
        unanswered = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "in", Message.processed_at.is_(None)),
            execution_options=options,
        )
        unsent = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "out", Message.status == "pending"),
            execution_options=options,
        )
    return int(unanswered or 0), int(unsent or 0)


async def idle(container: Container) -> bool:
    """Nothing left to answer and nothing left to send."""
    return await pending_work(container.sessions) == (0, 0)


async def all_messages(container: Container) -> list[Message]:
    async with container.sessions() as session:
        rows = await session.scalars(
            select(Message).order_by(Message.id), execution_options={ALL_TENANTS: True}
        )
        return list(rows)
