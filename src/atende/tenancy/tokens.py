"""Service tokens: how a machine (an ERP adapter, an integration) authenticates to the API."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.tenancy.models import ServiceToken
from atende.tenancy.scope import ALL_TENANTS, bind_tenant

PREFIX = "atd_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(sessions: async_sessionmaker[AsyncSession], tenant_id: str, name: str) -> str:
    """Create a token and return it: the only time it is ever shown."""
    token = PREFIX + secrets.token_urlsafe(32)
    async with sessions() as session:
        bind_tenant(session, tenant_id)
        session.add(ServiceToken(tenant_id=tenant_id, name=name, token_hash=hash_token(token)))
        await session.commit()
    return token


async def tenant_for_token(
    sessions: async_sessionmaker[AsyncSession], token: str | None
) -> str | None:
    """The tenant a token belongs to, or None. The token is what says which tenant this is, so
    this lookup is necessarily across tenants (by its unique hash)."""
    if not token or not token.startswith(PREFIX) or len(token) > 128:
        return None
    digest = hash_token(token)
    async with sessions() as session:
        row = await session.scalar(
            select(ServiceToken).where(
                ServiceToken.token_hash == digest, ServiceToken.revoked_at.is_(None)
            ),
            execution_options={ALL_TENANTS: True},
        )
    # The hash lookup already matched; comparing again in constant time costs nothing and keeps
    # the check obviously timing-safe for readers.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row.tenant_id
