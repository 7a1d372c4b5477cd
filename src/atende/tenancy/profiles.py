"""A tenant's name and settings for the hot path, cached briefly (they change rarely)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.tenancy.models import Tenant


@dataclass(frozen=True, slots=True)
class TenantProfile:
    id: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)


class TenantProfiles:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_seconds: float = 30.0):
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, TenantProfile]] = {}

    async def get(self, tenant_id: str) -> TenantProfile:
        now = time.monotonic()
        hit = self._cache.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._sessions() as session:
            tenant = await session.get(Tenant, tenant_id)
        profile = (
            TenantProfile(tenant.id, tenant.name, dict(tenant.settings or {}))
            if tenant is not None
            else TenantProfile(tenant_id, "", {})
        )
        self._cache[tenant_id] = (now + self._ttl, profile)
        return profile
