"""`atende demo` with the demo ERP's database where the README says it can be: a path or a URL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from atende.channels.models import Channel
from atende.config import Environment, Settings
from atende.devtools.fake_graph import FakeGraph
from atende.kit.db import create_engine, session_factory
from atende.kit.secrets import SecretBox
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS
from tests.support.app import SANDBOX_TOKEN, running, seed
from tests.support.process import env_for, run


def test_that_the_demo_erp_can_live_at_a_file_path(database_url: str, tmp_path: Path) -> None:
    erp = tmp_path / "elsewhere" / "demo_erp.db"
    env = env_for(database_url, tmp_path / "var", ATENDE_DEMO_ERP_URL=str(erp))
    run(["migrate"], env)
    assert "demo tenant ready" in run(["demo"], env)
    assert erp.is_file()
    assert not (tmp_path / "var" / "demo_erp.db").exists()


def test_that_a_demo_erp_location_that_is_no_database_gets_one_line(tmp_path: Path) -> None:
    env = env_for("sqlite:///unused.db", tmp_path, ATENDE_DEMO_ERP_URL="https://erp.example.com")
    with pytest.raises(AssertionError) as failure:
        run(["demo"], env)
    error = str(failure.value).split("failed:\n", 1)[1].strip()
    assert error.splitlines() == [
        "Error: ATENDE_DEMO_ERP_URL: 'https' is not a database Atende can use; give a SQLite file"
        " path (./var/demo_erp.db) or a URL starting with sqlite:/// or postgresql://"
    ]


DEMO_SECRETS = {
    "ATENDE_DEMO_WHATSAPP_APP_SECRET": "a-real-app-secret",
    "ATENDE_DEMO_WHATSAPP_VERIFY_TOKEN": "a-real-verify-token",
    "ATENDE_DEMO_WHATSAPP_ACCESS_TOKEN": "a-real-access-token",
}


def _production(database_url: str, var: Path, **extra: str) -> dict[str, str]:
    env = env_for(database_url, var, **extra)
    env.update(ATENDE_ENV="production", ATENDE_SECRET_KEY=Fernet.generate_key().decode())
    return env


async def _channels(database_url: str, key: str) -> dict[str, tuple[bool, dict[str, str]]]:
    engine = create_engine(database_url)
    box = SecretBox(key.encode())
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(select(Channel), execution_options={ALL_TENANTS: True})
            return {
                row.slug: (row.active, {k: box.decrypt(v) for k, v in row.secrets.items()})
                for row in rows
            }
    finally:
        await engine.dispose()


async def test_that_the_demo_refuses_the_public_secrets_in_production(
    database_url: str, tmp_path: Path
) -> None:
    given = {"ATENDE_DEMO_WHATSAPP_APP_SECRET": "only-this-one"}
    env = _production(database_url, tmp_path / "var", **given)

    with pytest.raises(AssertionError) as failure:
        run(["demo"], env)

    error = str(failure.value).split("failed:\n", 1)[1]
    assert "ATENDE_DEMO_WHATSAPP_VERIFY_TOKEN, ATENDE_DEMO_WHATSAPP_ACCESS_TOKEN" in error
    assert "ATENDE_DEMO_WHATSAPP_APP_SECRET" not in error
    assert await _channels(database_url, env["ATENDE_SECRET_KEY"]) == {}


async def test_that_the_demo_in_production_uses_the_given_secrets_and_no_sandbox(
    database_url: str, tmp_path: Path
) -> None:
    env = _production(database_url, tmp_path / "var", **DEMO_SECRETS)

    assert "demo tenant ready" in run(["demo"], env)

    channels = await _channels(database_url, env["ATENDE_SECRET_KEY"])
    assert channels["demo-whatsapp"] == (
        True,
        {
            "app_secret": "a-real-app-secret",
            "verify_token": "a-real-verify-token",
            "access_token": "a-real-access-token",
        },
    )
    assert [slug for slug, (active, _) in channels.items() if active] == ["demo-whatsapp"]


async def test_that_production_serves_no_sandbox_even_for_an_existing_sandbox_channel(
    database_url: str, tmp_path: Path, graph: FakeGraph
) -> None:
    key = Fernet.generate_key().decode()
    settings = Settings(
        env=Environment.production,
        secret_key=key,
        database_url=database_url,
        var_dir=tmp_path / "var",
        public_url="https://atende.example.com",
    )
    container = Container(settings)
    await seed(container, graph.url)  # a sandbox channel made before, or by hand
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/sandbox/acme-sandbox/messages",
            json={"from": "+5511987654321", "text": "oi"},
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
        )
        replies = await client.get(
            "/sandbox/acme-sandbox/replies",
            params={"from": "+5511987654321"},
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
        )
    assert (response.status_code, replies.status_code) == (404, 404)


def test_that_a_missing_secret_key_in_production_is_one_line_not_a_traceback(
    database_url: str, tmp_path: Path
) -> None:
    env = env_for(database_url, tmp_path / "var", **DEMO_SECRETS)
    env["ATENDE_ENV"] = "production"

    with pytest.raises(AssertionError) as failure:
        run(["demo"], env)

    error = str(failure.value).split("failed:\n", 1)[1]
    assert "Error: ATENDE_SECRET_KEY is required in production" in error
    assert "Fernet.generate_key()" in error
    assert "Traceback" not in error


def test_that_commands_run_before_migrate_say_to_migrate(tmp_path: Path) -> None:
    env = env_for(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "var")
    for command in (["demo"], ["chat"], ["test", str(tmp_path)]):
        with pytest.raises(AssertionError) as failure:
            run(command, env, stdin="oi\n")
        error = str(failure.value).split("failed:\n", 1)[1]
        assert "Error: the database has no schema or an old one: run `atende migrate`" in error
        assert "Traceback" not in error
        assert "no such table" not in error


def test_that_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    # Port 9 (discard) has no PostgreSQL: the connection is refused at once.
    env = env_for("postgresql://atende:s3cret-pw@127.0.0.1:9/atende", tmp_path / "var")
    with pytest.raises(AssertionError) as failure:
        run(["demo"], env)
    error = str(failure.value).split("failed:\n", 1)[1]
    assert "Error: cannot reach the database postgresql+asyncpg://atende:***@127.0.0.1:9" in error
    assert "s3cret-pw" not in error
    assert "Traceback" not in error
