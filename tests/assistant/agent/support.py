"""The agent tests' world: a container on the demo tenant whose model is a FakeLLM."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from atende.audit.models import AiTurn
from atende.channels.types import ChannelRuntime
from atende.devtools.fake_llm import FakeLLM
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS
from tests.support.chat import SandboxChat

MARIA_PHONE = "+55 11 98765-4321"


@dataclass
class World:
    container: Container
    llm: FakeLLM
    channel: ChannelRuntime
    tenant_id: str


def Chat(world: World, phone: str = MARIA_PHONE) -> SandboxChat:
    return SandboxChat(world.container, world.channel, phone)


async def records(container: Container) -> list[AiTurn]:
    async with container.sessions() as session:
        rows = await session.scalars(
            select(AiTurn).order_by(AiTurn.id), execution_options={ALL_TENANTS: True}
        )
        return list(rows)
