"""Reading the notices left for a tenant's admins (the admin inbox will show them too)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.audit.models import AdminNotice
from atende.kit.clock import utcnow
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
