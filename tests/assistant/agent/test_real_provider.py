"""The opt-in lane against a real provider: never in CI (no network there, and it costs money).

Set ``ATENDE_TEST_REAL_LLM_BASE_URL``, ``ATENDE_TEST_REAL_LLM_MODEL`` and
``ATENDE_TEST_REAL_LLM_API_KEY`` to run it; it checks that a real model, through the same engine,
answers a greeting and a stock question grounded in the demo ERP, without falling back.
"""

from __future__ import annotations

import os

import pytest

from tests.assistant.agent.support import Chat, World, records

REAL = {
    key: os.environ.get(f"ATENDE_TEST_REAL_LLM_{key.upper()}")
    for key in ("base_url", "model", "api_key")
}

pytestmark = pytest.mark.skipif(
    not (REAL["base_url"] and REAL["model"]) or os.environ.get("CI", "").lower() == "true",
    reason="opt-in lane: set ATENDE_TEST_REAL_LLM_BASE_URL and _MODEL (never in CI)",
)


@pytest.fixture
def real_world(world: World) -> World:
    from atende.assistant.agent.config import LlmConfig

    engine = world.container.agent
    engine.defaults = LlmConfig(
        base_url=REAL["base_url"],
        model=REAL["model"],
        api_key=REAL["api_key"],
        turn_budget_seconds=30.0,
        request_timeout_seconds=20.0,
    )
    return world


async def test_that_a_real_model_answers_a_stock_question_from_the_erp(real_world: World) -> None:
    reply = await Chat(real_world, phone="+55 31 90000-0099").say(
        "oi! quanto custa a camiseta CAM-002 e tem em estoque?"
    )
    assert reply
    (record,) = await records(real_world.container)
    assert record.fallback_reason is None, record.fallback_reason
    assert "stock_and_price" in [call["name"] for call in record.tool_calls]
    assert "49,90" in reply
