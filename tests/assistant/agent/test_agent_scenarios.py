"""The project's conversation scripts (`scenarios/`) played with the LLM agent against the demo
fake model (`atende fake-llm`), as `tests/test_scenarios.py` plays them with the offline engine.

The runner fails any step the offline engine answered instead of the agent: a fallback passing
a scenario would prove nothing about the agent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from atende.config import Settings
from atende.demo import seed_demo
from atende.devtools.fake_llm import FakeLLM, demo_responder
from atende.main import Container
from atende.scenarios import ScriptRunner, script_paths

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


@pytest.fixture
async def agent(settings: Settings) -> AsyncIterator[Container]:
    async with FakeLLM(responder=demo_responder) as llm:
        configured = settings.model_copy(
            update={
                "llm_base_url": llm.base_url,
                "llm_model": "gpt-4o-mini",
                "llm_api_key": None,
                "erp_backoff_max_seconds": 0.01,
            }
        )
        container = Container(configured)
        await seed_demo(container.sessions, container.box, container.settings)
        await container.start_workers(recover_pending=False)
        try:
            yield container
        finally:
            await container.aclose()


async def test_that_every_project_scenario_passes_with_the_agent(agent: Container) -> None:
    runner = ScriptRunner(agent, engine="llm")
    failures = []
    for path in script_paths(SCENARIOS):
        result = await runner.run_script(str(path), path.read_text(encoding="utf-8"))
        failures += [f"{result.name}: {failure}" for failure in result.failures]
    assert not failures, "\n".join(failures)
