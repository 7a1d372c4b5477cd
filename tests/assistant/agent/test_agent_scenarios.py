"""The project's conversation scripts (`scenarios/`) played with the LLM agent against the demo
stand-in model (`atende fake-llm`), as `tests/test_scenarios.py` plays them with the offline
engine.

The runner fails any step the offline engine answered instead of the agent: a fallback passing
a scenario would prove nothing about the agent.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from atende.config import Settings
from atende.demo import DEMO_SANDBOX, sandbox_token, seed_demo
from atende.devtools.fake_llm import FakeLLM, demo_responder
from atende.main import Container
from atende.scenarios import ScriptRunner, script_paths
from tests.assistant.agent.support import MARIA_PHONE
from tests.support.chat import SandboxChat

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


@dataclass
class Agent:
    container: Container
    llm: FakeLLM


@pytest.fixture
async def agent(settings: Settings) -> AsyncIterator[Agent]:
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
            yield Agent(container, llm)
        finally:
            await container.aclose()


async def test_that_every_project_scenario_passes_with_the_agent(agent: Agent) -> None:
    runner = ScriptRunner(agent.container, engine="llm")
    failures = []
    for path in script_paths(SCENARIOS):
        result = await runner.run_script(str(path), path.read_text(encoding="utf-8"))
        failures += [f"{result.name}: {failure}" for failure in result.failures]
    assert not failures, "\n".join(failures)
    # The stand-in was asked for every turn (not bypassed by a fallback).
    assert agent.llm.chat_requests
    assert agent.llm.responder_errors == []


async def test_that_a_step_the_offline_engine_answered_fails_with_the_reason(
    agent: Agent,
) -> None:
    # The provider down for the whole turn: the offline engine answers, correctly.
    for _ in range(3):
        agent.llm.fail(500)
    script = """
name: o modelo fora do ar
phone: "+55 61 90000-0077"
steps:
  - customer: "vcs aceitam pix?"
    expect:
      say: ["PIX"]
"""
    offline = await ScriptRunner(agent.container).run_script("inline.yaml", script)
    for _ in range(3):
        agent.llm.fail(500)
    result = await ScriptRunner(agent.container, engine="llm").run_script("inline.yaml", script)

    assert offline.passed, offline.failures
    assert result.failures == [
        "step 1 ('vcs aceitam pix?'): answered by offline (fallback: provider_500), not llm"
    ]


async def test_that_the_linha_digitavel_and_the_pix_code_arrive_alone(agent: Agent) -> None:
    """Each paragraph of the agent's answer is a WhatsApp message: a long press on the linha
    digitável copies exactly it."""
    channel = await agent.container.sandbox.channel(DEMO_SANDBOX, sandbox_token())
    chat = SandboxChat(agent.container, channel, MARIA_PHONE)
    await chat.say("quero a 2a via do boleto, meu cpf é 529.982.247-25")
    chat.seen.clear()

    await chat.say("2")

    assert any(re.fullmatch(r"\d{47}", text) for text in chat.seen), chat.seen
    assert any(text.startswith("00020126") for text in chat.seen), chat.seen
    assert chat.seen[0].startswith("Aqui está a 2ª via do seu boleto")


async def test_that_several_questions_in_one_turn_are_each_answered_in_order(
    agent: Agent,
) -> None:
    channel = await agent.container.sandbox.channel(DEMO_SANDBOX, sandbox_token())
    chat = SandboxChat(agent.container, channel, "+55 61 90000-0078")

    answer = await chat.say("tem CAM-001? e CAF-002?\nqual o horário de funcionamento?")

    assert answer.index("(CAM-001)") < answer.index("(CAF-002)") < answer.index("segunda a sexta")
