"""`atende llm`: a tenant's model settings from the command line, the API key encrypted at rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from atende.assistant.agent.admin import configure_llm
from atende.config import LLM_TURN_CONCURRENCY, Environment, Settings
from atende.demo import seed_demo
from atende.ingest.service import TURN
from atende.kit.secrets import SecretBox
from atende.main import Container
from atende.tenancy.models import Tenant
from tests.support.process import env_for, run


async def test_that_a_tenants_model_is_configured_with_an_encrypted_key(
    database_url: str, tmp_path: Path, nlu_cache: Path
) -> None:
    env = env_for(database_url, tmp_path / "var", TENANT_LLM_KEY="sk-test-123456")
    run(["migrate"], env)
    run(["demo"], env)
    shown = json.loads(
        run(
            [
                "llm",
                "--base-url",
                "http://127.0.0.1:8090/v1",
                "--model",
                "gpt-4o-mini",
                "--api-key-env",
                "TENANT_LLM_KEY",
                "--monthly-token-budget",
                "100000",
            ],
            env,
        )
    )
    assert shown == {
        "api_key": "(set)",
        "base_url": "http://127.0.0.1:8090/v1",
        "model": "gpt-4o-mini",
        "monthly_token_budget": 100000,
    }
    container = Container(
        Settings(
            env=Environment.test,
            database_url=database_url,
            var_dir=tmp_path / "var",
            nlu_cache_dir=nlu_cache,
        )
    )
    try:
        async with container.sessions() as session:
            tenant = await session.scalar(select(Tenant).where(Tenant.slug == "demo"))
        assert tenant is not None
        stored = tenant.settings["llm"]["api_key"]
        assert "sk-test" not in stored  # encrypted at rest
        config, _profile = await container.agent.config_for(tenant.id)
    finally:
        await container.aclose()
    assert config.enabled
    assert config.api_key == "sk-test-123456"
    assert config.monthly_token_budget == 100000
    disabled = json.loads(run(["llm", "--disable"], env))
    assert disabled["enabled"] is False


@pytest.fixture
def without_concurrency(settings: Settings) -> Settings:
    """No ATENDE_WORKER_CONCURRENCY: the process decides how many turns run at once."""
    return settings.model_copy(update={"worker_concurrency": None})


def turn_concurrency(container: Container) -> list[int]:
    return [w.concurrency for w in container.workers if w.kind == TURN]


def offline_concurrency(settings: Settings) -> int:
    return 1 if settings.is_sqlite else 4


async def test_that_a_model_configured_per_tenant_lets_sqlite_run_turns_concurrently(
    without_concurrency: Settings,
) -> None:
    # No model in the environment: on SQLite the offline engine's turns run one at a time…
    container = Container(without_concurrency)
    try:
        tenant_id = await seed_demo(container.sessions, container.box, without_concurrency)
        await container.start_workers(recover_pending=False)
        assert turn_concurrency(container) == [offline_concurrency(without_concurrency)]
    finally:
        await container.aclose()
    # …but once a tenant answers with a model, its turns mostly wait on the network.
    container = Container(without_concurrency)
    try:
        await configure_llm(
            container.sessions,
            container.box,
            tenant_id,
            {"base_url": "http://127.0.0.1:9/v1", "model": "gpt-4o-mini"},
        )
        await container.start_workers(recover_pending=False)
        assert turn_concurrency(container) == [LLM_TURN_CONCURRENCY]
    finally:
        await container.aclose()


async def test_that_a_key_encrypted_with_another_secret_does_not_stop_the_workers(
    without_concurrency: Settings,
) -> None:
    container = Container(without_concurrency)
    try:
        tenant_id = await seed_demo(container.sessions, container.box, without_concurrency)
        await configure_llm(
            container.sessions,
            SecretBox(Fernet.generate_key()),
            tenant_id,
            {"base_url": "http://127.0.0.1:9/v1", "model": "gpt-4o-mini"},
            api_key="sk-other",
        )
        await container.start_workers(recover_pending=False)
        assert turn_concurrency(container) == [offline_concurrency(without_concurrency)]
    finally:
        await container.aclose()
