"""A tenant's ERP token encrypted with a key the process no longer has: a 503 that names the
configuration error and a notice for the tenant's admins, never a 500; with the old key listed
in ATENDE_PREVIOUS_SECRET_KEYS it is read, and `atende secrets rotate` re-encrypts it with the
current key (issue 10, point 9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from atende.audit.notices import list_notices
from atende.config import Settings
from atende.connectors.demo import DemoErp, business_today, seed_demo_erp
from atende.demo import ensure_tenant
from atende.main import Container
from atende.tenancy.models import Tenant
from atende.tenancy.rotation import rotate_stored_secrets
from atende.tenancy.tokens import issue_token
from tests.connectors.fake_business_api import FakeBusinessApi
from tests.support.app import running

MARIA = "529.982.247-25"
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@dataclass
class Company:
    adapter_url: str
    database_url: str


@pytest.fixture
async def company(tmp_path: Path) -> AsyncIterator[Company]:
    erp_url = f"sqlite+aiosqlite:///{tmp_path / 'company_erp.db'}"
    await seed_demo_erp(erp_url, today=business_today())
    erp = DemoErp(erp_url)
    adapter = FakeBusinessApi(erp, token="adapter-secret")
    try:
        yield Company(await adapter.start(), erp_url)
    finally:
        await adapter.close()
        await erp.aclose()


async def _tenant_encrypted_with_old_key(container: Container, company: Company) -> str:
    return await ensure_tenant(
        container.sessions,
        "loja",
        "Loja",
        {
            "erp": {
                "kind": "rest",
                "base_url": company.adapter_url,
                "token": Fernet(OLD_KEY.encode()).encrypt(b"adapter-secret").decode(),
            }
        },
    )


async def test_that_an_unreadable_erp_token_is_a_503_naming_the_key_and_a_notice(
    settings: Settings, company: Company
) -> None:
    container = Container(settings.model_copy(update={"secret_key": SecretStr(NEW_KEY)}))
    tenant_id = await _tenant_encrypted_with_old_key(container, company)
    token = await issue_token(container.sessions, tenant_id, "tests")
    async with (
        running(container) as url,
        httpx.AsyncClient(base_url=url, headers={"Auth-Token": token}) as api,
    ):
        first = await api.get("/api/v1/clientes", params={"doc": MARIA})
        second = await api.get("/api/v1/financeiro/titulos", params={"doc": MARIA})

        assert (first.status_code, second.status_code) == (503, 503)
        assert first.headers["content-type"] == "application/problem+json"
        problem = first.json()
        assert problem["reason"] == "erp_secret_unreadable"
        assert "ATENDE_SECRET_KEY" in problem["detail"]
        assert "não pode ser lido" in problem["detail"]
        notices = await list_notices(container.sessions, tenant_id, mark_read=False)
    assert [notice.kind for notice in notices] == ["erp_secret_unreadable"]
    assert "ATENDE_PREVIOUS_SECRET_KEYS" in notices[0].message


async def test_that_a_previous_key_still_reads_and_rotation_moves_to_the_current_key(
    settings: Settings, company: Company
) -> None:
    rotated = settings.model_copy(
        update={"secret_key": SecretStr(NEW_KEY), "previous_secret_keys": SecretStr(OLD_KEY)}
    )
    container = Container(rotated)
    tenant_id = await _tenant_encrypted_with_old_key(container, company)
    token = await issue_token(container.sessions, tenant_id, "tests")
    async with (
        running(container) as url,
        httpx.AsyncClient(base_url=url, headers={"Auth-Token": token}) as api,
    ):
        found = await api.get("/api/v1/clientes", params={"doc": MARIA})
        assert found.status_code == 200, found.text

        assert await rotate_stored_secrets(container.sessions, container.box) >= 1
        async with container.sessions() as session:
            tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        stored = tenant.settings["erp"]["token"]
    assert Fernet(NEW_KEY.encode()).decrypt(stored.encode()) == b"adapter-secret"
