"""Service tokens: shown once, stored hashed, resolved to their tenant, revocable."""

from __future__ import annotations

from sqlalchemy import select, update

from atende.main import Container
from atende.tenancy.models import ServiceToken
from atende.tenancy.scope import ALL_TENANTS
from atende.tenancy.tokens import hash_token, issue_token, tenant_for_token
from tests.support.app import Seeded


async def test_that_a_token_resolves_to_its_tenant_and_is_stored_hashed(
    container: Container, seeded: Seeded
) -> None:
    token = await issue_token(container.sessions, seeded.tenant_id, "erp-adapter")
    assert token.startswith("atd_")
    assert await tenant_for_token(container.sessions, token) == seeded.tenant_id
    async with container.sessions() as session:
        stored = (
            await session.scalars(select(ServiceToken), execution_options={ALL_TENANTS: True})
        ).all()
    assert [row.token_hash for row in stored] == [hash_token(token)]
    assert token not in {row.token_hash for row in stored}


async def test_that_wrong_missing_or_revoked_tokens_resolve_to_nothing(
    container: Container, seeded: Seeded
) -> None:
    token = await issue_token(container.sessions, seeded.tenant_id, "erp-adapter")
    for wrong in (None, "", "atd_nope", token + "x", "Bearer " + token, "x" * 500):
        assert await tenant_for_token(container.sessions, wrong) is None
    async with container.sessions() as session:
        await session.execute(
            update(ServiceToken)
            .values(revoked_at=ServiceToken.created_at)
            .execution_options(**{ALL_TENANTS: True})
        )
        await session.commit()
    assert await tenant_for_token(container.sessions, token) is None
