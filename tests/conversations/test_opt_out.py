"""Opting out, and back in by writing again, as the opt-out reply promises.

While a contact is opted out nothing is sent on our initiative (a request kept during an ERP
outage is not answered when the ERP is back); a later message from the contact clears the
opt-out, the conversation's log records both, and the bot answers as usual again. The ERP is a
company adapter over real HTTP that the tests take down and bring back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from atende.channels.types import ChannelRuntime
from atende.config import Settings
from atende.connectors.demo import DemoErp, business_today, seed_demo_erp
from atende.contacts.models import Contact
from atende.conversations.models import ConversationEvent, Message
from atende.deferred.models import DeferredRequest
from atende.demo import DEMO_SANDBOX, ensure_tenant, sandbox_token, seed_demo
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS
from tests.connectors.fake_business_api import FakeBusinessApi
from tests.support.chat import SandboxChat
from tests.support.waiting import until

MARIA_PHONE = "+55 11 98765-4321"
MARIA = "529.982.247-25"
STOP = "não quero mais receber mensagens"

T = TypeVar("T")


@dataclass
class World:
    container: Container
    adapter: FakeBusinessApi
    chat: SandboxChat


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    fast = settings.model_copy(
        update={
            "deferred_retry_base_seconds": 0.05,
            "deferred_retry_max_seconds": 0.2,
            "erp_attempts": 1,
            "erp_breaker_reset_seconds": 0.1,
        }
    )
    container = Container(fast)
    erp_url = f"sqlite+aiosqlite:///{tmp_path / 'company_erp.db'}"
    await seed_demo_erp(erp_url, today=business_today())
    erp = DemoErp(erp_url)
    adapter = FakeBusinessApi(erp, token="adapter-secret")
    adapter_url = await adapter.start()
    await seed_demo(container.sessions, container.box, container.settings)
    erp_settings = {
        "kind": "rest",
        "base_url": adapter_url,
        "token": container.box.encrypt("adapter-secret"),
    }
    await ensure_tenant(container.sessions, "demo", "Loja Demo", {"erp": erp_settings})
    await container.start_workers(recover_pending=False)
    channel: ChannelRuntime = await container.sandbox.channel(DEMO_SANDBOX, sandbox_token())
    try:
        yield World(container, adapter, SandboxChat(container, channel, MARIA_PHONE))
    finally:
        await container.aclose()
        await adapter.close()
        await erp.aclose()


async def _rows(container: Container, model: type[T], order: Any) -> list[T]:
    async with container.sessions() as session:
        found = await session.scalars(
            select(model).order_by(order), execution_options={ALL_TENANTS: True}
        )
        return list(found)


async def contact(container: Container) -> Contact:
    (found,) = await _rows(container, Contact, Contact.created_at)
    return found


async def events(container: Container) -> list[str]:
    return [e.type for e in await _rows(container, ConversationEvent, ConversationEvent.id)]


async def kept(container: Container) -> list[DeferredRequest]:
    return await _rows(container, DeferredRequest, DeferredRequest.created_at)


async def sent(container: Container) -> int:
    return sum(m.direction == "out" for m in await _rows(container, Message, Message.id))


async def test_that_writing_again_after_opting_out_clears_it_and_the_log_says_so(
    world: World,
) -> None:
    told = await world.chat.say(STOP)
    assert "é só escrever aqui" in told
    assert (await contact(world.container)).opted_out_at is not None

    hello = await world.chat.say("oi, bom dia")

    assert hello.startswith("Olá")
    assert (await contact(world.container)).opted_out_at is None
    log = await events(world.container)
    assert log.index("opted_out") < log.index("opt_out_cleared")
    assert log.count("opt_out_cleared") == 1


async def test_that_asking_to_stop_twice_is_one_opt_out(world: World) -> None:
    await world.chat.say(STOP)
    await world.chat.say(STOP)
    assert (await contact(world.container)).opted_out_at is not None
    log = await events(world.container)
    assert (log.count("opted_out"), log.count("opt_out_cleared")) == (1, 0)


async def test_that_nothing_is_sent_on_our_initiative_while_opted_out_and_after_writing_again_it_is(
    world: World,
) -> None:
    container, chat = world.container, world.chat
    world.adapter.down = True
    assert "anotei" in (await chat.say(f"quero a 2a via do boleto, meu cpf é {MARIA}")).lower()
    await chat.say(STOP)
    before = await sent(container)

    world.adapter.down = False

    async def closed() -> bool:
        return [row.status for row in await kept(container)] == ["cancelled"]

    await until(container, closed)
    assert await sent(container) == before  # the kept request was not answered

    # Writing again is choosing the conversation again: a request kept now is answered.
    world.adapter.down = True
    assert "anotei" in (await chat.say(f"quero a 2a via do boleto, meu cpf é {MARIA}")).lower()
    world.adapter.down = False
    resumed = await chat.wait_for("Nosso sistema voltou")
    assert "2ª via" in resumed
    assert [row.status for row in await kept(container)] == ["cancelled", "done"]
