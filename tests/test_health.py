"""Liveness and readiness as an orchestrator sees them."""

from __future__ import annotations

from pathlib import Path

import httpx

from atende.config import Environment, Settings
from atende.main import Container
from tests.support.app import running


async def test_that_a_healthy_process_is_alive_and_ready(container: Container) -> None:
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        alive = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert alive.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": True, "queue": True}}


async def test_that_an_unreachable_database_makes_the_process_not_ready(tmp_path: Path) -> None:
    settings = Settings(
        env=Environment.test,
        database_url="postgresql://nobody@127.0.0.1:9/nowhere",
        var_dir=tmp_path,
    )
    container = Container(settings)
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        alive = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": False, "queue": True}
