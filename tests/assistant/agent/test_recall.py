"""Long-term semantic recall, end to end on three databases: SQLite and PostgreSQL without
pgvector (ranked with numpy) and PostgreSQL with pgvector (ranked in SQL), through the real
embeddings client against the fake provider's ``/embeddings`` (a hashed bag of words: texts
sharing words are close)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update

from atende.assistant.agent.admin import configure_llm
from atende.assistant.recall_models import Memory
from atende.config import Settings
from atende.conversations.models import Conversation, ConversationEvent
from atende.devtools.fake_llm import FakeLLM, estimate_tokens
from atende.kit.clock import utcnow
from atende.tenancy.models import Tenant
from atende.tenancy.scope import ALL_TENANTS
from tests.assistant.agent.support import Chat, World, records
from tests.support import databases

RANKERS = {"sqlite": "numpy", "postgresql": "numpy", "pgvector": "pgvector"}
CPF = "529.982.247-25"


@pytest.fixture(params=list(RANKERS))
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        return databases.sqlite_copy(sqlite_template, tmp_path)
    if request.param == "pgvector":
        server: databases.PgvectorServer = request.getfixturevalue("pgvector_server")
        server.truncate("atende")
        return server.url("atende")
    name: str = request.getfixturevalue("pg_database")
    databases.truncate_pg(name)
    return databases.pg_url(name)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"llm_recall": True})


async def end_session(world: World) -> None:
    """As if the customer had gone quiet for two hours: the next message opens a new session."""
    async with world.container.sessions() as session:
        await session.execute(
            update(Conversation).values(last_activity_at=utcnow() - timedelta(hours=2)),
            execution_options={ALL_TENANTS: True},
        )
        await session.commit()


async def memories(world: World) -> list[Memory]:
    async with world.container.sessions() as session:
        rows = await session.scalars(
            select(Memory).order_by(Memory.id), execution_options={ALL_TENANTS: True}
        )
        return list(rows)


async def test_an_earlier_session_is_recalled_by_meaning_and_the_current_one_is_not(
    world: World, request: pytest.FixtureRequest
) -> None:
    chat = Chat(world)
    world.llm.reply("Sinto muito! Vou registrar a troca da cadeira.")
    await chat.say(f"meu cpf é {CPF}, a cadeira que comprei chegou quebrada")
    world.llm.reply("Atendemos de segunda a sexta.")
    await chat.say("qual o horário de vocês?")
    await end_session(world)
    world.llm.reply("A troca da cadeira já foi pedida.", prompt_tokens=1000)

    await chat.say("e a cadeira quebrada?")

    first, same_session, next_session = world.llm.chat_requests
    assert "De atendimentos anteriores" not in first.system_prompt
    # The current session's turns are in the prompt already, as recent turns, not as memories.
    assert "De atendimentos anteriores" not in same_session.system_prompt
    recalled = next_session.system_prompt.split("De atendimentos anteriores")[1]
    assert "a cadeira que comprei chegou quebrada" in recalled
    assert "Vou registrar a troca da cadeira" in recalled
    # Unrelated memories stay out (below the similarity floor).
    assert "horário" not in recalled
    # The session's placeholders are not carried over with their numbers.
    assert "[CPF]" in recalled
    assert "[CPF_1]" not in recalled
    assert world.container.agent.recall is not None
    assert (
        world.container.agent.recall.ranker == RANKERS[request.node.callspec.params["database_url"]]
    )

    rows = await memories(world)
    assert len(rows) == 3
    assert {row.model for row in rows} == {"text-embedding-3-small"}
    assert len({row.session_id for row in rows}) == 2
    # Neither the embeddings provider nor the memories ever hold the CPF.
    for body in [json.dumps(r.json) for r in world.llm.embeddings] + [r.text for r in rows]:
        assert "52998224725" not in body
        assert CPF not in body
    assert len(world.llm.embeddings) == 3

    async with world.container.sessions() as session:
        replied = (
            await session.scalars(
                select(ConversationEvent)
                .where(ConversationEvent.type == "engine_replied")
                .order_by(ConversationEvent.id),
                execution_options={ALL_TENANTS: True},
            )
        ).all()
    assert [event.data.get("recall") for event in replied] == [0, 0, 1]
    # The embeddings' tokens count, in the record and so in the tenant's budget.
    last = (await records(world.container))[-1]
    assert last.tokens_in == 1000 + estimate_tokens("e a cadeira quebrada?")


async def test_a_failing_embeddings_endpoint_costs_recall_not_the_answer(world: World) -> None:
    world.llm.fail_embeddings(503)
    world.llm.reply("Claro, posso ajudar com a cadeira.")

    answer = await Chat(world).say("a cadeira chegou quebrada")

    assert answer == "Claro, posso ajudar com a cadeira."
    (record,) = await records(world.container)
    assert (record.engine, record.fallback_reason) == ("llm", None)
    # Nothing to remember without the message's embedding.
    assert await memories(world) == []


async def test_a_tenant_can_turn_recall_off(world: World) -> None:
    await configure_llm(
        world.container.sessions, world.container.box, world.tenant_id, {"recall": False}
    )
    world.llm.reply("Oi! Como posso ajudar?")

    await Chat(world).say("a cadeira chegou quebrada")

    assert world.llm.embeddings == []
    assert await memories(world) == []


async def test_search_ranks_one_contacts_memories_of_the_same_model_and_size(
    world: World,
) -> None:
    world.llm.reply("Oi!")
    await Chat(world).say("oi")
    world.llm.reply("Oi!")
    await Chat(world, phone="+55 21 97777-1234").say("oi")
    async with world.container.sessions() as session:
        maria, other = (
            await session.scalars(
                select(Conversation).order_by(Conversation.created_at),
                execution_options={ALL_TENANTS: True},
            )
        ).all()
        assert maria.contact_id != other.contact_id

        def memory(conversation: Conversation, text: str, vector: list[float], **kw: str) -> None:
            session.add(
                Memory(
                    tenant_id=world.tenant_id,
                    contact_id=conversation.contact_id,
                    conversation_id=conversation.id,
                    session_id=kw.get("session", "earlier"),
                    model=kw.get("model", "m1"),
                    dims=len(vector),
                    text=text,
                    embedding=np.asarray(vector, dtype="<f4"),
                    created_at=utcnow(),
                )
            )

        written = utcnow()
        memory(maria, "exact", [1.0, 0.0, 0.0, 0.0])
        memory(maria, "close", [0.6, 0.8, 0.0, 0.0])
        memory(maria, "far", [0.3, 0.0, 0.0, math.sqrt(1 - 0.09)])
        memory(maria, "other model", [1.0, 0.0, 0.0, 0.0], model="m2")
        memory(maria, "other size", [1.0, 0.0, 0.0])
        memory(maria, "this session", [1.0, 0.0, 0.0, 0.0], session="now")
        memory(other, "another contact", [1.0, 0.0, 0.0, 0.0])
        await session.commit()
    store = world.container.agent.recall
    assert store is not None

    async def search(
        limit: int, min_score: float, before: datetime | None = None
    ) -> list[tuple[str, float]]:
        before = before or utcnow()
        found = await store.search(
            world.tenant_id,
            maria.contact_id,
            model="m1",
            vector=np.asarray([2.0, 0.0, 0.0, 0.0]),  # not unit: the store normalises it
            exclude_session="now",
            before=before,
            limit=limit,
            min_score=min_score,
        )
        return [(m.text, round(m.score, 4)) for m in found]

    assert await search(5, 0.0) == [("exact", 1.0), ("close", 0.6), ("far", 0.3)]
    assert await search(2, 0.0) == [("exact", 1.0), ("close", 0.6)]
    assert await search(5, 0.5) == [("exact", 1.0), ("close", 0.6)]
    # A replayed turn does not see what was remembered after it.
    assert await search(5, 0.0, before=written) == []


async def test_embeddings_can_come_from_another_provider_with_its_own_key(world: World) -> None:
    async with FakeLLM(api_key="sk-embeddings") as embedder:
        await configure_llm(
            world.container.sessions,
            world.container.box,
            world.tenant_id,
            {"embedding_base_url": embedder.base_url},
            embedding_api_key="sk-embeddings",
        )
        world.llm.reply("Oi! Como posso ajudar?")

        await Chat(world).say("a cadeira chegou quebrada")

        assert world.llm.embeddings == []
        (request,) = embedder.embeddings
        assert request.status == 200  # the key was right
        assert request.header("authorization") == "Bearer sk-embeddings"
    (memory,) = await memories(world)
    assert memory.text.startswith("Cliente: a cadeira chegou quebrada")
    async with world.container.sessions() as session:
        tenant = await session.get(Tenant, world.tenant_id)
        assert tenant is not None
        assert "sk-embeddings" not in json.dumps(tenant.settings)  # encrypted at rest
