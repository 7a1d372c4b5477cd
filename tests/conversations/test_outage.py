"""An ERP outage: the customer is told, the request is kept, and answered when the ERP is back.

The tenant's ERP is a company adapter over real HTTP (``FakeBusinessApi`` on the demo ERP's data)
that the tests take down and bring back; the customer talks through the sandbox channel, the same
pipeline WhatsApp uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from atende.channels.sandbox.service import normalise_phone
from atende.channels.types import ChannelRuntime
from atende.config import Settings
from atende.connectors.demo import DemoErp, business_today, seed_demo_erp
from atende.conversations.models import Conversation
from atende.conversations.service import RESUME
from atende.deferred.models import DeferredRequest
from atende.demo import DEMO_SANDBOX, ensure_tenant, sandbox_token, seed_demo
from atende.main import Container
from atende.pipeline import recover
from atende.queue.port import Job
from atende.tenancy.scope import ALL_TENANTS
from atende.tenancy.tokens import issue_token
from tests.connectors.fake_business_api import FakeBusinessApi
from tests.support.app import running
from tests.support.chat import SandboxChat
from tests.support.waiting import until

MARIA_PHONE = "+55 11 98765-4321"
MARIA = "529.982.247-25"


@dataclass
class World:
    container: Container
    adapter: FakeBusinessApi
    erp: DemoErp
    channel: ChannelRuntime
    tenant_id: str


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    fast = settings.model_copy(
        update={
            "deferred_retry_base_seconds": 0.05,
            "deferred_retry_max_seconds": 0.2,
            "erp_attempts": 2,
            "erp_backoff_max_seconds": 0.02,
            "erp_breaker_reset_seconds": 0.2,
        }
    )
    container = Container(fast)
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
                "base_url": adapter_url,
                "token": container.box.encrypt("adapter-secret"),
            }
        },
    )
    await container.start_workers(recover_pending=False)
    channel = await container.sandbox.channel(DEMO_SANDBOX, sandbox_token())
    try:
        yield World(container, adapter, erp, channel, tenant_id)
    finally:
        await container.aclose()
        await adapter.close()
        await erp.aclose()


def chat_with(world: World, phone: str = MARIA_PHONE) -> SandboxChat:
    return SandboxChat(world.container, world.channel, phone)


async def kept(container: Container) -> list[DeferredRequest]:
    async with container.sessions() as session:
        rows = await session.scalars(
            select(DeferredRequest).order_by(DeferredRequest.created_at),
            execution_options={ALL_TENANTS: True},
        )
        return list(rows)


def resume_job(world: World, phone: str = MARIA_PHONE) -> Job:
    return Job(RESUME, f"{world.channel.id}|{normalise_phone(phone)}", world.tenant_id)


async def test_that_a_request_made_during_an_outage_is_answered_when_the_erp_is_back(
    world: World,
) -> None:
    chat = chat_with(world)
    world.adapter.down = True
    told = await chat.say(f"quero a segunda via do boleto, meu cpf é {MARIA}")
    assert "fora do ar" in told
    assert "anotei" in told.lower()
    (row,) = await kept(world.container)
    assert (row.kind, row.status) == ("turn", "pending")
    # The request waits for the ERP: kept, tried again, still pending while it is down.
    await until(world.container, lambda: _attempted(world.container, at_least=2))
    assert (await kept(world.container))[0].status == "pending"
    assert chat.seen == [told]  # retries are silent

    world.adapter.down = False
    resumed = await chat.wait_for("De qual quer a 2ª via?")
    assert "Nosso sistema voltou" in resumed
    assert (await kept(world.container))[0].status == "done"
    # The conversation carries on from the resumed answer: the memory was kept.
    copy = await chat.say("1")
    assert "linha digitável" in copy
    assert any(len("".join(c for c in line if c.isdigit())) == 47 for line in copy.splitlines())


async def _attempted(container: Container, *, at_least: int) -> bool:
    rows = await kept(container)
    return bool(rows) and rows[0].attempts >= at_least


async def test_that_an_order_confirmed_during_an_outage_is_placed_once_when_back(
    world: World,
) -> None:
    chat = chat_with(world)
    await chat.say(f"quero comprar 2 CAM-001, meu cpf é {MARIA}")
    assert "Posso confirmar?" in "\n".join(chat.seen)
    world.adapter.down = True
    told = await chat.say("sim")
    assert "anotei" in told.lower()
    world.adapter.down = False
    placed = await chat.wait_for("registrado")
    assert "Nosso sistema voltou" in placed
    posts = world.adapter.calls("/api/v1/vendas/pedido")
    assert len({call.headers["Idempotency-Key"] for call in posts}) == 1
    stock = await world.erp.get_product("CAM-001")
    assert stock.stock == 23  # 25 in the seed: reserved exactly once


async def test_that_cancelar_drops_the_kept_request(world: World) -> None:
    chat = chat_with(world)
    world.adapter.down = True
    await chat.say(f"quero ver meus pedidos, meu cpf é {MARIA}")
    cancelled = await chat.say("cancelar")
    assert "cancelei" in cancelled
    assert [row.status for row in await kept(world.container)] == ["cancelled"]
    world.adapter.down = False
    await world.container.resumes.handle(resume_job(world))
    assert len(chat.seen) == 2  # nothing was sent after the cancel


async def test_that_a_human_taking_over_closes_the_kept_request_silently(world: World) -> None:
    chat = chat_with(world)
    world.adapter.down = True
    await chat.say(f"status do meu pedido, cpf {MARIA}")
    async with world.container.sessions() as session:
        await session.execute(
            update(Conversation).values(owner="human"),
            execution_options={ALL_TENANTS: True},
        )
        await session.commit()
    world.adapter.down = False
    await _make_due(world.container)
    await world.container.resumes.handle(resume_job(world))
    (row,) = await kept(world.container)
    assert row.status == "cancelled"
    assert len(chat.seen) == 1


async def test_that_asking_again_during_the_outage_keeps_one_request(world: World) -> None:
    chat = chat_with(world)
    world.adapter.down = True
    await chat.say(f"2a via do boleto, cpf {MARIA}")
    await chat.say(f"2a via do boleto, cpf {MARIA}")
    assert len(await kept(world.container)) == 1


async def test_that_a_kept_request_whose_reminder_was_lost_is_found_by_the_sweep(
    world: World,
) -> None:
    """A restart loses the in-memory reminder; the row is the promise, and the sweep finds it."""
    chat = chat_with(world)
    world.adapter.down = True
    await chat.say(f"quero ver meus pedidos, meu cpf é {MARIA}")
    world.adapter.down = False
    await _make_due(world.container)
    await recover(world.container.sessions, world.container.queue)
    answer = await chat.wait_for("Nosso sistema voltou")
    assert "PED-" in answer


async def _make_due(container: Container) -> None:
    async with container.sessions() as session:
        await session.execute(
            update(DeferredRequest).values(next_attempt_at=DeferredRequest.created_at),
            execution_options={ALL_TENANTS: True},
        )
        await session.commit()


async def test_that_an_api_order_during_an_outage_is_kept_and_placed_later(
    world: World,
) -> None:
    container = world.container
    token = await issue_token(container.sessions, world.tenant_id, "tests")
    order = {"doc": MARIA, "items": [{"sku": "CAM-001", "quantity": 1}]}
    key = {"Idempotency-Key": "order-outage-0001"}
    world.adapter.down = True
    async with (
        running(container) as url,
        httpx.AsyncClient(base_url=url, headers={"Auth-Token": token}) as api,
    ):
        accepted = await api.post("/api/v1/vendas/pedido", json=order, headers=key)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["status"] == "pending"
        follow = accepted.headers["Location"]
        assert (await api.get(follow)).status_code == 202
        again = await api.post("/api/v1/vendas/pedido", json=order, headers=key)
        assert again.status_code == 202
        assert len(await kept(container)) == 1

        world.adapter.down = False

        async def placed() -> bool:
            return (await api.get(follow)).status_code == 200

        await until(container, placed, timeout=15)
        state = (await api.get(follow)).json()
        assert state["status"] == "done"
        receipt = state["receipt"]
        repeat = await api.post("/api/v1/vendas/pedido", json=order, headers=key)
        unknown = await api.get("/api/v1/vendas/pedido/never-posted-key")
    assert repeat.status_code == 201
    assert repeat.json()["order_id"] == receipt["order_id"]
    assert unknown.status_code == 404
    assert (await world.erp.get_product("CAM-001")).stock == 24  # placed exactly once


async def test_that_a_kept_orders_key_reused_with_another_order_is_a_422(world: World) -> None:
    container = world.container
    token = await issue_token(container.sessions, world.tenant_id, "tests")
    order = {"doc": MARIA, "items": [{"sku": "CAM-001", "quantity": 1}]}
    key = {"Idempotency-Key": "order-outage-0002"}
    world.adapter.down = True
    async with (
        running(container) as url,
        httpx.AsyncClient(base_url=url, headers={"Auth-Token": token}) as api,
    ):
        accepted = await api.post("/api/v1/vendas/pedido", json=order, headers=key)
        other = {"doc": "11.222.333/0001-81", "items": order["items"], "notes": "urgente"}
        reused = await api.post("/api/v1/vendas/pedido", json=other, headers=key)
        again = await api.post("/api/v1/vendas/pedido", json=order, headers=key)
    assert accepted.status_code == 202
    assert reused.status_code == 422
    assert reused.json()["fields"] == ["doc", "notes"]
    assert "campos diferentes: doc, notes" in reused.json()["detail"]
    assert "11222333000181" not in reused.text  # names the fields, never the values
    assert again.status_code == 202
    (row,) = await kept(container)
    assert row.payload["document"] == "52998224725"  # the kept order is still the first one


async def test_that_the_breaker_state_and_kept_requests_show_in_metrics(world: World) -> None:
    container = world.container
    token = await issue_token(container.sessions, world.tenant_id, "tests")
    world.adapter.down = True
    chat = chat_with(world)
    await chat.say(f"2a via do boleto, cpf {MARIA}")
    async with (
        running(container) as url,
        httpx.AsyncClient(base_url=url, headers={"Auth-Token": token}) as api,
    ):
        for _ in range(3):
            down = await api.get("/api/v1/clientes", params={"doc": MARIA})
            assert down.status_code == 503
        metrics = (await api.get("/metrics")).text
    breaker = f'atende_connector_breaker_open{{connector="rest",tenant="{world.tenant_id}"}} 1.0'
    assert breaker in metrics
    kept_line = 'atende_deferred_requests_total{kind="turn",outcome="kept"}'
    assert kept_line in metrics
