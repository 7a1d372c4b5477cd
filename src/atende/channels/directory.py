"""Channel lookup for the hot path: by public slug (webhooks) and by id (workers), cached.

Webhooks must not pay a database round trip to find the channel's secret on every request; channels
change rarely, so a short-lived cache is safe. Secrets are decrypted once per cache fill.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.channels.models import Channel
from atende.channels.types import ChannelRuntime
from atende.kit.errors import NotFound
from atende.kit.secrets import SecretBox
from atende.tenancy.scope import ALL_TENANTS


class ChannelDirectory:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        *,
        ttl_seconds: float = 30.0,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._ttl = ttl_seconds
        self._by_slug: dict[str, tuple[float, ChannelRuntime]] = {}
        self._by_id: dict[str, tuple[float, ChannelRuntime]] = {}

    async def by_slug(self, slug: str) -> ChannelRuntime:
        return await self._get(self._by_slug, slug, Channel.slug == slug)

    async def by_id(self, channel_id: str) -> ChannelRuntime:
        return await self._get(self._by_id, channel_id, Channel.id == channel_id)

    def invalidate(self) -> None:
        self._by_slug.clear()
        self._by_id.clear()

    async def _get(
        self, cache: dict[str, tuple[float, ChannelRuntime]], key: str, where: Any
    ) -> ChannelRuntime:
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._sessions() as session:
            # Routing a webhook to its tenant is the one place that must look across tenants.
            row = await session.scalar(
                select(Channel).where(where, Channel.active.is_(True)),
                execution_options={ALL_TENANTS: True},
            )
        if row is None:
            raise NotFound("unknown channel")
        runtime = ChannelRuntime(
            id=row.id,
            tenant_id=row.tenant_id,
            slug=row.slug,
            kind=row.kind,
            config=dict(row.config),
            secrets=self._decrypt(row.secrets),
        )
        expires = now + self._ttl
        self._by_slug[runtime.slug] = (expires, runtime)
        self._by_id[runtime.id] = (expires, runtime)
        return runtime

    def _decrypt(self, secrets: Mapping[str, str]) -> dict[str, str]:
        return {name: self._box.decrypt(value) for name, value in secrets.items()}
