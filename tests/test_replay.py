"""`atende replay`: conversations recorded through the real pipeline, asked again of the current
assistant, compared turn by turn, with nothing written, sent or ordered."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Sequence
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import func, select, update

from atende.assistant.port import Action, Engine, Turn
from atende.channels.types import ChannelRuntime
from atende.config import Settings
from atende.conversations.models import Conversation, ConversationEvent, Message
from atende.demo import DEMO_SANDBOX, sandbox_token, seed_demo
from atende.devtools.fake_llm import FakeLLM
from atende.kit.clock import utcnow
from atende.kit.db import Base
from atende.main import Container
from atende.replay import (
    SIMULATED_ORDER_ID,
    ReplayError,
    json_lines,
    load,
    replay,
    text_lines,
    turn_of,
)
from atende.tenancy.models import Tenant
from atende.tenancy.scope import bind_tenant
from tests.support.process import ATENDE, env_for

MARIA_PHONE = "+55 11 98765-4321"
MARIA_CPF = "529.982.247-25"


class Customer:
    """Maria writing through the sandbox channel, one answered turn at a time."""

    def __init__(self, container: Container, channel: ChannelRuntime) -> None:
        self.container = container
        self.channel = channel
        self.after = 0

    async def say(self, text: str) -> list[str]:
        sandbox = self.container.sandbox
        message_id = await sandbox.submit(self.channel, MARIA_PHONE, text)
        answer = await sandbox.replies(
            self.channel, MARIA_PHONE, message_id=message_id, after=self.after, wait=15
        )
        assert answer.answered, f"{text!r} was not answered in time"
        self.after = answer.last_id
        return [str(reply.get("text") or "") for reply in answer.replies]


async def start(container: Container) -> tuple[str, Customer]:
    tenant_id = await seed_demo(container.sessions, container.box, container.settings)
    await container.start_workers(recover_pending=False)
    channel = await container.sandbox.channel(DEMO_SANDBOX, sandbox_token())
    return tenant_id, Customer(container, channel)


async def conversation_id(container: Container, tenant_id: str) -> str:
    async with container.sessions() as session:
        bind_tenant(session, tenant_id)
        found = await session.scalar(select(Conversation.id))
    assert found is not None
    return str(found)


async def row_counts(container: Container) -> dict[str, int]:
    """Rows of every table, read below the ORM (no tenant scoping): any write shows here."""
    async with container.db.connect() as connection:
        return {
            table.name: int(await connection.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


async def test_that_an_unchanged_assistant_answers_every_turn_the_same(
    container: Container,
) -> None:
    tenant_id, maria = await start(container)
    await maria.say("oi")
    await maria.say(f"quero a 2a via do boleto, cpf {MARIA_CPF}")
    chosen = await maria.say("1")
    assert any("2ª via" in text for text in chosen)

    turns = await replay(container, await conversation_id(container, tenant_id), tenant="demo")

    assert [t.customer for t in turns] == ["oi", f"quero a 2a via do boleto, cpf {MARIA_CPF}", "1"]
    assert [t.status for t in turns] == ["same", "same", "same"]
    assert all(t.engine == "offline" and t.fallback_reason is None for t in turns)
    assert turns[2].then == turns[2].now
    assert len(turns[2].now) >= 3  # summary, linha digitável, PDF caption, PIX…
    printed = list(text_lines(turns))
    assert printed[-1] == "3 turns replayed: 3 same, 0 different; 0 skipped"
    assert "  customer: oi" in printed
    objects = [orjson.loads(line) for line in json_lines(turns)]
    assert [o["turn"] for o in objects] == [1, 2, 3]
    assert objects[0]["status"] == "same"
    assert objects[0]["then"] == objects[0]["now"]


class Recording:
    """The live engine, noting the turns it is asked."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.name = inner.name
        self.turns: list[Turn] = []

    async def reply(self, turn: Turn) -> Sequence[Action]:
        self.turns.append(turn)
        return await self.inner.reply(turn)


async def test_that_a_replayed_turn_is_the_turn_the_engine_was_asked(
    container: Container,
) -> None:
    tenant_id, maria = await start(container)
    live = Recording(container.turns.engine)
    container.turns.engine = live
    await maria.say("oi")
    await maria.say(f"quero a 2a via do boleto, cpf {MARIA_CPF}")
    await maria.say("1")

    recorded = await load(container.sessions, "demo", await conversation_id(container, tenant_id))

    assert len(recorded.turns) == len(live.turns) == 3
    # A contact's very first message is answered before the contact exists; the replay knows it.
    assert live.turns[0].contact_id is None
    assert live.turns[1].contact_id == recorded.conversation.contact_id
    for then, asked in zip(recorded.turns, live.turns, strict=True):
        rebuilt = turn_of(recorded, then, asked.state)
        assert rebuilt.contact_id == recorded.conversation.contact_id
        # Else only the clock differs: the replay's "now" is when the turn's last message came.
        assert dataclasses.replace(rebuilt, now=asked.now, contact_id=asked.contact_id) == asked
        assert abs(rebuilt.now - asked.now) < timedelta(seconds=30)


async def test_that_a_changed_greeting_is_the_only_difference(container: Container) -> None:
    tenant_id, maria = await start(container)
    await maria.say("oi")
    await maria.say(f"quero a 2a via do boleto, cpf {MARIA_CPF}")
    await maria.say("1")
    conversation = await conversation_id(container, tenant_id)
    async with container.sessions() as session:
        tenant = await session.get_one(Tenant, tenant_id)
        tenant.settings = {
            **tenant.settings,
            "templates": {"greeting": "Bem-vindo à {business}! Em que posso ajudar?"},
        }
        await session.commit()

    # A fresh container: the running one caches the tenant's settings for 30 seconds.
    fresh = Container(container.settings)
    try:
        turns = await replay(fresh, conversation, tenant="demo")
    finally:
        await fresh.aclose()

    assert [t.status for t in turns] == ["different", "same", "same"]
    assert turns[0].then[0].startswith("Olá! 👋 Eu sou a Ana")
    assert turns[0].now == ("Bem-vindo à Loja Demo! Em que posso ajudar?",)
    assert list(text_lines(turns))[-1] == "3 turns replayed: 2 same, 1 different; 0 skipped"


async def test_that_replaying_a_confirmed_order_orders_and_writes_nothing(
    container: Container,
) -> None:
    tenant_id, maria = await start(container)
    await maria.say("quero comprar 2 CAM-001")
    await maria.say(MARIA_CPF)
    await maria.say("quero comprar 2 CAM-001")
    placed = await maria.say("sim")
    assert any("registrado" in text for text in placed)
    erp = await container.erp_registry.erp(tenant_id)
    stock = (await erp.get_product("CAM-001")).stock
    orders = len(await erp.recent_orders(MARIA_CPF))
    rows = await row_counts(container)
    conversation = await conversation_id(container, tenant_id)
    async with container.sessions() as session:
        bind_tenant(session, tenant_id)
        before = await session.get_one(Conversation, conversation)
        state, updated_at = dict(before.state), before.updated_at

    turns = await replay(container, conversation, tenant="demo")

    confirmed = turns[-1]
    assert confirmed.customer == "sim"
    assert confirmed.status == "different"  # the ERP's order number, then; a simulated one now
    assert confirmed.simulated_orders == 1
    assert SIMULATED_ORDER_ID in confirmed.now[0]
    assert "R$ 99,80" in confirmed.now[0]
    assert [t.status for t in turns[:-1]] == ["same", "same", "same"]
    assert (await erp.get_product("CAM-001")).stock == stock
    assert len(await erp.recent_orders(MARIA_CPF)) == orders
    assert await row_counts(container) == rows
    async with container.sessions() as session:
        bind_tenant(session, tenant_id)
        after = await session.get_one(Conversation, conversation)
        assert (dict(after.state), after.updated_at) == (state, updated_at)


async def test_that_the_memory_starts_afresh_with_each_session(container: Container) -> None:
    tenant_id, maria = await start(container)
    await maria.say("oi, preciso da 2a via do boleto")
    async with container.sessions() as session:
        bind_tenant(session, tenant_id)
        await session.execute(
            update(Conversation).values(last_activity_at=utcnow() - timedelta(days=1))
        )
        await session.commit()
    # A new session: the CPF alone no longer answers the earlier request.
    await maria.say(MARIA_CPF)

    turns = await replay(container, await conversation_id(container, tenant_id), tenant="demo")

    assert [t.status for t in turns] == ["same", "same"]


async def test_that_turns_the_bot_did_not_answer_are_shown_as_skipped(
    container: Container,
) -> None:
    tenant_id, maria = await start(container)
    await maria.say("oi")
    await maria.say("quero falar com um atendente")
    sandbox = container.sandbox
    await sandbox.submit(maria.channel, MARIA_PHONE, "alô?")
    conversation = await conversation_id(container, tenant_id)
    async with container.sessions() as session:
        bind_tenant(session, tenant_id)
        while not await session.scalar(
            select(ConversationEvent.id).where(ConversationEvent.type == "bot_silent")
        ):
            await session.rollback()
            await sandbox.replies(maria.channel, MARIA_PHONE, message_id=None, after=0, wait=0.05)
        # A request kept during an outage and answered later, as the resume job records it.
        first_reply = await session.scalar(
            select(Message.id).where(Message.direction == "out").order_by(Message.id)
        )
        session.add(
            ConversationEvent(
                tenant_id=tenant_id,
                conversation_id=conversation,
                type="deferred_resumed",
                data={"step": "open_titulos", "engine": "offline", "outbound_ids": [first_reply]},
            )
        )
        await session.commit()

    turns = await replay(container, conversation, tenant="demo")

    assert [t.status for t in turns] == ["same", "same", "skipped", "skipped"]
    assert turns[2].customer == "alô?"
    assert turns[2].reason == "not answered by the bot (owner: queued)"
    assert turns[3].reason == "system-initiated"
    assert turns[3].customer == ""
    assert turns[3].then[0].startswith("Olá")
    printed = list(text_lines(turns))
    assert any(line.endswith("skipped (system-initiated)") for line in printed)
    assert printed[-1] == "2 turns replayed: 2 same, 0 different; 2 skipped"


async def test_that_the_llm_is_asked_again_and_its_record_is_shown(settings: Settings) -> None:
    async with FakeLLM() as llm:
        configured = settings.model_copy(
            update={
                "llm_base_url": llm.base_url,
                "llm_model": "gpt-4o-mini",
                "llm_api_key": None,
                "llm_turn_budget_seconds": 3.0,
                "llm_request_timeout_seconds": 1.0,
            }
        )
        container = Container(configured)
        try:
            tenant_id, maria = await start(container)
            await maria.say("qual o horário de vocês?")
            await maria.say("e aos sábados?")
            conversation = await conversation_id(container, tenant_id)
            rows = await row_counts(container)
            llm.reply("Agora respondo de outro jeito.")

            turns = await replay(container, conversation, tenant="demo")

            assert await row_counts(container) == rows  # no ai_turns row for a replay
        finally:
            await container.aclose()
    assert [t.status for t in turns] == ["different", "same"]
    assert turns[0].now == ("Agora respondo de outro jeito.",)
    assert all(t.engine == "llm" and t.model == "gpt-4o-mini" for t in turns)
    assert all(t.fallback_reason is None and (t.tokens or 0) > 0 for t in turns)
    assert "(llm, model gpt-4o-mini" in next(iter(text_lines(turns)))


async def test_that_an_unknown_conversation_or_tenant_is_an_error(container: Container) -> None:
    await start(container)
    with pytest.raises(ReplayError, match=r"^no conversation 'nope' in tenant 'demo'$"):
        await replay(container, "nope", tenant="demo")
    with pytest.raises(ReplayError, match=r"^no tenant 'elsewhere'$"):
        await replay(container, "nope", tenant="elsewhere")


async def test_that_the_command_prints_json_lines_and_fails_on_an_unknown_id(
    container: Container,
) -> None:
    tenant_id, maria = await start(container)
    await maria.say("oi")
    conversation = await conversation_id(container, tenant_id)
    env = env_for(container.settings.database_url, container.settings.var_dir)

    def atende(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command
            [ATENDE, "replay", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )

    ok = atende(conversation, "--json")
    assert ok.returncode == 0, ok.stderr
    lines = [orjson.loads(line) for line in ok.stdout.splitlines()]
    assert len(lines) == 1
    assert lines[0]["customer"] == "oi"
    assert lines[0]["status"] == "same"
    unknown = atende("0123456789abcdef", "--tenant", "demo")
    assert unknown.returncode == 1
    assert "no conversation '0123456789abcdef' in tenant 'demo'" in unknown.stderr
    assert unknown.stdout == ""
