"""`atende llm`: a tenant's model settings from the command line, the API key encrypted at rest."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from atende.config import Environment, Settings
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
