"""The project's own conversation scripts (`scenarios/`), played like `atende test` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from atende.demo import seed_demo
from atende.main import Container
from atende.scenarios import ScriptRunner, script_paths

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_that_there_are_scenarios() -> None:
    assert len(script_paths(SCENARIOS)) >= 8


async def test_that_every_project_scenario_passes(container: Container) -> None:
    await seed_demo(container.sessions, container.box, container.settings)
    await container.start_workers(recover_pending=False)
    runner = ScriptRunner(container)
    failures = []
    for path in script_paths(SCENARIOS):
        result = await runner.run_script(str(path), path.read_text(encoding="utf-8"))
        failures += [f"{result.name}: {failure}" for failure in result.failures]
    assert failures == []


async def test_that_a_failing_script_is_reported_with_its_step(container: Container) -> None:
    await seed_demo(container.sessions, container.box, container.settings)
    await container.start_workers(recover_pending=False)
    script = """
name: uma expectativa errada
phone: "+55 81 90000-0009"
steps:
  - customer: "oi"
    expect:
      say: ["texto que o assistente nunca diz"]
      call: [second_copy]
"""
    result = await ScriptRunner(container).run_script("inline.yaml", script)
    assert not result.passed
    assert len(result.failures) == 2
    assert result.failures[0].startswith("step 1 ('oi'): expected to say")


@pytest.mark.parametrize("broken", ["steps: [{customer: oi}", "channel: nope\nsteps: []"])
async def test_that_a_broken_script_fails_instead_of_crashing(
    container: Container, broken: str
) -> None:
    await seed_demo(container.sessions, container.box, container.settings)
    result = await ScriptRunner(container).run_script("broken.yaml", broken)
    assert not result.passed


async def test_that_a_script_does_not_see_the_replies_of_an_earlier_run(
    container: Container,
) -> None:
    await seed_demo(container.sessions, container.box, container.settings)
    await container.start_workers(recover_pending=False)
    runner = ScriptRunner(container)
    greet = (
        'phone: "+55 81 90000-0010"\nsteps:\n  - customer: "oi"\n    expect:\n      say: ["Ana"]\n'
    )
    stock = (
        'phone: "+55 81 90000-0010"\nsteps:\n  - customer: "tem CAM-001?"\n'
        '    expect:\n      not_say: ["Ana"]\n'
    )
    assert (await runner.run_script("greet.yaml", greet)).passed
    assert (await runner.run_script("stock.yaml", stock)).failures == []
