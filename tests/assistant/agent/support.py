"""The agent tests' world: a container on the demo tenant whose model is a FakeLLM."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from atende.audit.models import AiTurn
from atende.channels.types import ChannelRuntime
from atende.devtools.fake_llm import FakeLLM
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS

MARIA_PHONE = "+55 11 98765-4321"


@dataclass
class World:
    container: Container
    llm: FakeLLM
    channel: ChannelRuntime
    tenant_id: str


@dataclass
class Chat:
    world: World
    phone: str = MARIA_PHONE
    after: int = 0
    seen: list[str] = field(default_factory=list)

    async def say(self, text: str) -> str:
        sandbox = self.world.container.sandbox
        message_id = await sandbox.submit(self.world.channel, self.phone, text)
        answer = await sandbox.replies(
            self.world.channel, self.phone, message_id=message_id, after=self.after, wait=15
        )
        assert answer.answered, "the turn was not answered in time"
        self.after = answer.last_id
        texts = [str(r.get("text") or "") for r in answer.replies]
        self.seen += texts
        return "\n".join(texts)


async def records(container: Container) -> list[AiTurn]:
    async with container.sessions() as session:
        rows = await session.scalars(
            select(AiTurn).order_by(AiTurn.id), execution_options={ALL_TENANTS: True}
        )
        return list(rows)
