from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from atende.config import Settings
from atende.demo import DEMO_SANDBOX, sandbox_token, seed_demo
from atende.devtools.fake_llm import FakeLLM
from atende.main import Container
from tests.assistant.agent.support import World


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with FakeLLM() as llm:
        configured = settings.model_copy(
            update={
                "llm_base_url": llm.base_url,
                "llm_model": "gpt-4o-mini",
                "llm_api_key": None,
                "llm_turn_budget_seconds": 3.0,
                "llm_request_timeout_seconds": 1.0,
                "erp_backoff_max_seconds": 0.01,
            }
        )
        container = Container(configured)
        tenant_id = await seed_demo(container.sessions, container.box, container.settings)
        await container.start_workers(recover_pending=False)
        channel = await container.sandbox.channel(DEMO_SANDBOX, sandbox_token())
        try:
            yield World(container, llm, channel, tenant_id)
        finally:
            await container.aclose()
