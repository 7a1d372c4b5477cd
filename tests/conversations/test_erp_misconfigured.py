"""A tenant's REST connector pointed at the wrong address: the customer is not told "not found",
the tenant's admins are told what to fix, and the Business API says it is a gateway problem.

The adapter is a company's ERP adapter over real HTTP (``FakeBusinessApi``) that serves the
contract at its root; the tenant's ``base_url`` points under it, where every route is 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from atende.audit.notices import list_notices
from atende.channels.types import ChannelRuntime
from atende.config import Settings
from atende.connectors.demo import DemoErp, business_today, seed_demo_erp
from atende.demo import DEMO_SANDBOX, ensure_tenant, sandbox_token, seed_demo
from atende.devtools.fake_llm import FakeLLM, ToolCall
from atende.main import Container
from atende.tenancy.tokens import issue_token
from tests.connectors.fake_business_api import FakeBusinessApi
from tests.support.app import running
from tests.support.chat import SandboxChat

MARIA_PHONE = "+55 11 98765-4321"
MARIA = "529.982.247-25"


@dataclass
class World:
    container: Container
    adapter: FakeBusinessApi
    channel: ChannelRuntime
    tenant_id: str
    engine: str = "offline"


@pytest.fixture(params=["offline", "agent"])
async def world(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> AsyncIterator[World]:
    async with FakeLLM() as llm:
        if request.param == "agent":
            # The model asks for the customer's record, as a model would.
            llm.call_tools(ToolCall("identify_customer", {"document": MARIA}))
            settings = settings.model_copy(
                update={"llm_base_url": llm.base_url, "llm_model": "gpt-4o-mini"}
            )
        async with _world(settings, tmp_path) as world:
            world.engine = request.param
            yield world


@asynccontextmanager
async def _world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    container = Container(settings)
    erp_url = f"sqlite+aiosqlite:///{tmp_path / 'company_erp.db'}"
    await seed_demo_erp(erp_url, today=business_today())
    erp = DemoErp(erp_url)
    adapter = FakeBusinessApi(erp, token="adapter-secret")
    adapter_url = await adapter.start()
    tenant_id = await seed_demo(container.sessions, container.box, container.settings)
    await ensure_tenant(
        container.sessions,
        "demo",
        "Loja Demo",
        {
            "erp": {
                "kind": "rest",
                "base_url": f"{adapter_url}/erp",
                "token": container.box.encrypt("adapter-secret"),
            }
        },
    )
    await container.start_workers(recover_pending=False)
    channel = await container.sandbox.channel(DEMO_SANDBOX, sandbox_token())
    try:
        yield World(container, adapter, channel, tenant_id)
    finally:
        await container.aclose()
        await adapter.close()
        await erp.aclose()


async def test_that_a_wrong_erp_address_reaches_the_admins_and_not_the_customer_as_not_found(
    world: World,
) -> None:
    chat = SandboxChat(world.container, world.channel, MARIA_PHONE)
    replies = [await chat.say(f"quero a segunda via do boleto, meu cpf é {MARIA}")]
    if world.engine == "offline":  # the fake model scripts one turn
        replies.append(await chat.say(f"meu cpf é {MARIA}"))

    for reply in replies:
        assert "encontrei" not in reply.lower()
        assert "atendente" in reply
    assert world.adapter.calls("/erp/api/v1/clientes")  # it did ask, at the wrong address
    (notice,) = await list_notices(world.container.sessions, world.tenant_id, mark_read=False)
    assert notice.kind == "erp_misconfigured"
    assert "/api/v1/clientes" in notice.message
    assert "base_url" in notice.message
    assert "52998224725" not in notice.message


async def test_that_the_business_api_answers_a_wrong_erp_address_as_a_gateway_problem(
    world: World,
) -> None:
    token = await issue_token(world.container.sessions, world.tenant_id, "tests")
    async with (
        running(world.container) as url,
        httpx.AsyncClient(base_url=url, headers={"Auth-Token": token}) as client,
    ):
        response = await client.get("/api/v1/clientes", params={"doc": MARIA})
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert "mal configurado" in response.json()["detail"]
