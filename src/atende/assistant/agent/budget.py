"""A tenant's monthly token budget: beyond it the offline engine answers and the admins are told
(through a :class:`NotifyAdmins` action the turn writes, like every other effect of a turn).

Usage is summed from the audit trail (``ai_turns``) once a minute per tenant and counted in
memory in between, so the hot path never runs an aggregate over a month of rows. With several
processes each one sees the others' usage at the next refresh: the budget can be overrun by at
most a minute of traffic, which is the price of not serialising every turn on a counter.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.assistant.agent.config import LlmConfig
from atende.assistant.port import NotifyAdmins
from atende.audit.models import AiTurn
from atende.kit.clock import utcnow
from atende.tenancy.scope import bind_tenant


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class TokenBudget:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], refresh_seconds: float = 60.0
    ) -> None:
        self._sessions = sessions
        self._refresh = refresh_seconds
        #: tenant → (month, refreshed at (monotonic), tokens used)
        self._used: dict[str, tuple[datetime, float, int]] = {}

    async def used(self, tenant_id: str) -> int:
        month = month_start(utcnow())
        cached = self._used.get(tenant_id)
        if (
            cached is not None
            and cached[0] == month
            and time.monotonic() - cached[1] < self._refresh
        ):
            return cached[2]
        async with self._sessions() as session:
            bind_tenant(session, tenant_id)
            total = await session.scalar(
                select(func.coalesce(func.sum(AiTurn.tokens_in + AiTurn.tokens_out), 0)).where(
                    AiTurn.created_at >= month
                )
            )
        self._used[tenant_id] = (month, time.monotonic(), int(total or 0))
        return int(total or 0)

    async def add(self, tenant_id: str, tokens: int) -> None:
        cached = self._used.get(tenant_id)
        if cached is not None:
            self._used[tenant_id] = (cached[0], cached[1], cached[2] + tokens)

    async def spent(self, tenant_id: str, config: LlmConfig) -> NotifyAdmins | None:
        """None while the tenant has budget left this month. Once it is spent, the notice for
        its admins: the engine returns it with the offline engine's answer and the turn writes
        it, once per month (its key), in the turn's transaction. Nothing is written here."""
        limit = config.monthly_token_budget
        if limit is None:
            return None
        used = await self.used(tenant_id)
        if used < limit:
            return None
        month = month_start(utcnow()).strftime("%Y-%m")
        return NotifyAdmins(
            kind="token_budget",
            key=f"token_budget:{tenant_id}:{month}",
            text=(
                f"O limite mensal de {limit:,} tokens do assistente com IA foi atingido "
                f"({used:,} usados em {month}). Até o fim do mês, ou até o limite ser "
                "ampliado, o assistente offline responde os clientes."
            ).replace(",", "."),
        )
