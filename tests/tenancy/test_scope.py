"""Tenant scoping is enforced in one place: a query cannot forget it."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update

from atende.channels.models import Channel
from atende.contacts.models import Contact
from atende.kit.errors import TenantScopeError
from atende.main import Container
from atende.tenancy.models import Tenant
from atende.tenancy.scope import ALL_TENANTS, bind_tenant


async def two_tenants(container: Container) -> tuple[str, str]:
    async with container.sessions() as session:
        acme, globex = Tenant(slug="acme", name="Acme"), Tenant(slug="globex", name="Globex")
        session.add_all([acme, globex])
        await session.flush()
        session.add_all(
            [
                Contact(tenant_id=acme.id, name="Ana"),
                Contact(tenant_id=acme.id, name="Alice"),
                Contact(tenant_id=globex.id, name="Gui"),
            ]
        )
        await session.commit()
        return acme.id, globex.id


async def test_that_a_query_without_a_tenant_is_refused(container: Container) -> None:
    await two_tenants(container)
    async with container.sessions() as session:
        with pytest.raises(TenantScopeError):
            await session.scalars(select(Contact))
        with pytest.raises(TenantScopeError):
            await session.execute(update(Contact).values(name="x"))
        with pytest.raises(TenantScopeError):
            await session.execute(delete(Contact))
        with pytest.raises(TenantScopeError):
            await session.scalar(select(func.count()).select_from(Channel))


async def test_that_a_bound_session_only_sees_and_changes_its_tenant(
    container: Container,
) -> None:
    acme, globex = await two_tenants(container)
    async with container.sessions() as session:
        bind_tenant(session, acme)
        # The query names no tenant at all: the scope adds it.
        names = sorted((await session.scalars(select(Contact.name))).all())
        assert names == ["Alice", "Ana"]
        assert await session.scalar(select(func.count()).select_from(Contact)) == 2
        await session.execute(update(Contact).values(name="changed"))
        await session.commit()
    async with container.sessions() as session:
        bind_tenant(session, globex)
        assert (await session.scalars(select(Contact.name))).all() == ["Gui"]
        await session.execute(delete(Contact))
        await session.commit()
    async with container.sessions() as session:
        everyone = await session.scalars(
            select(Contact.name).order_by(Contact.name), execution_options={ALL_TENANTS: True}
        )
        assert everyone.all() == ["changed", "changed"]


async def test_that_a_row_for_another_tenant_cannot_be_added(container: Container) -> None:
    acme, globex = await two_tenants(container)
    async with container.sessions() as session:
        bind_tenant(session, acme)
        session.add(Contact(tenant_id=globex, name="intruder"))
        with pytest.raises(TenantScopeError):
            await session.flush()
    async with container.sessions() as session:
        bind_tenant(session, acme)
        stamped = Contact(name="stamped")
        session.add(stamped)
        await session.flush()
        assert stamped.tenant_id == acme


async def test_that_tenants_themselves_are_not_scoped(container: Container) -> None:
    await two_tenants(container)
    async with container.sessions() as session:
        assert len((await session.scalars(select(Tenant))).all()) == 2
