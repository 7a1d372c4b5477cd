"""A conversation whose memory was stored by release 1 (a flat dict, no version) carries on
where it was after an upgrade, through the whole pipeline, and is stored in the current shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from atende.assistant.memory import VERSION
from atende.config import Settings
from atende.conversations.models import Conversation
from atende.demo import DEMO_SANDBOX, sandbox_token, seed_demo
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS
from tests.support.chat import SandboxChat

#: Not Maria's phone: only the proof kept in the memory lets this contact see her boletos.
PHONE = "+55 61 90000-0042"
MARIA = "52998224725"


@pytest.fixture
async def chat(settings: Settings) -> AsyncIterator[SandboxChat]:
    container = Container(settings)
    await seed_demo(container.sessions, container.box, container.settings)
    await container.start_workers(recover_pending=False)
    channel = await container.sandbox.channel(DEMO_SANDBOX, sandbox_token())
    try:
        yield SandboxChat(container, channel, PHONE)
    finally:
        await container.aclose()


async def _stored(container: Container, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The conversation's stored memory; replaced by ``state`` first when given."""
    async with container.sessions() as session:
        (conversation,) = await session.scalars(
            select(Conversation), execution_options={ALL_TENANTS: True}
        )
        if state is not None:
            conversation.state = state
            await session.commit()
        return dict(conversation.state or {})


async def test_that_a_boleto_list_stored_as_bare_ids_is_still_answered(chat: SandboxChat) -> None:
    await chat.say("oi")
    await _stored(
        chat.container,
        {
            "turn": 3,
            "goal": "invoice_copy",
            "awaiting": "titulo",
            "options": ["TIT-1001", "TIT-1002"],
            "verified": {"document": MARIA, "via": "birth_date"},
        },
    )

    said = await chat.say("2")

    assert "Aqui está a 2ª via do seu boleto" in said
    stored = await _stored(chat.container)
    assert stored["version"] == VERSION
    assert stored["identity"]["verified"] == {"document": MARIA, "via": "birth_date"}
    assert (stored["dialogue"]["awaiting"], stored["dialogue"]["options"]) == (None, [])
    assert "verified" not in stored


async def test_that_a_product_choice_stored_without_prices_is_still_answered(
    chat: SandboxChat,
) -> None:
    await chat.say("oi")
    await _stored(
        chat.container,
        {
            "turn": 2,
            "goal": "place_order",
            "awaiting": "order_choice",
            "order_pending": [],
            "order_line": {
                "query": "canecas",
                "quantity": 2,
                "options": [
                    {"sku": "CAN-001", "name": "Caneca de Cerâmica Café Coado 350 ml"},
                    {"sku": "CAN-002", "name": "Caneca Térmica Inox 500 ml"},
                ],
            },
            "verified": {"document": MARIA, "via": "birth_date"},
        },
    )

    said = await chat.say("a segunda")

    assert "Resumo do pedido" in said
    assert "2x Caneca Térmica Inox 500 ml" in said
    stored = await _stored(chat.container)
    assert stored["order"]["items"] == [{"sku": "CAN-002", "quantity": 2}]
    assert stored["dialogue"]["awaiting"] == "order_confirm"


async def test_that_a_proof_without_a_document_asks_for_the_cpf(chat: SandboxChat) -> None:
    await chat.say("oi")
    await _stored(chat.container, {"turn": 1, "verified": True})

    said = await chat.say("quero a segunda via do boleto")

    assert "CPF" in said
    assert "Aqui está a 2ª via" not in said
