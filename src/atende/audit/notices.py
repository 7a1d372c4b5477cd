"""The notices left for a tenant's admins: written once per key, read by `atende notices` (the
admin inbox will show them too)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.audit.models import AdminNotice
from atende.kit.clock import utcnow
from atende.kit.db import insert_ignoring_conflicts
from atende.tenancy.scope import bind_tenant


async def list_notices(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, *, mark_read: bool
) -> list[AdminNotice]:
    """The tenant's notices, newest first; ``mark_read`` marks the unread ones as read."""
    async with sessions() as session:
        bind_tenant(session, tenant_id)
        notices = list(await session.scalars(select(AdminNotice).order_by(AdminNotice.id.desc())))
        if mark_read:
            await session.execute(
                update(AdminNotice)
                .where(AdminNotice.read_at.is_(None))
                .values(read_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return notices


async def add_notice(
    session: AsyncSession, tenant_id: str, *, key: str, kind: str, message: str
) -> bool:
    """Write the notice in the caller's transaction unless one with ``key`` exists (another
    turn or process told the admins first). True if this call wrote it.

    ON CONFLICT DO NOTHING rather than catching the unique violation: a failed INSERT would end
    the caller's transaction on PostgreSQL, and with it the turn that carries the notice.
    """
    insert = (
        insert_ignoring_conflicts(session.get_bind().dialect.name, AdminNotice, ["key"])
        .values(tenant_id=tenant_id, key=key, kind=kind, message=message, created_at=utcnow())
        .returning(AdminNotice.id)
    )
    return (await session.execute(insert)).first() is not None
