from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from atende.config import Environment, Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever ATENDE_ variables the runner has must not leak into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("ATENDE_"):
            monkeypatch.delenv(name)


def test_that_settings_are_read_from_atende_prefixed_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATENDE_ENV", "production")
    monkeypatch.setenv("ATENDE_WORKER_CONCURRENCY", "7")
    monkeypatch.setenv("ATENDE_BURST_WINDOW_SECONDS", "0.5")
    monkeypatch.setenv("ATENDE_LLM_API_KEY", "sk-test-123")

    settings = Settings()

    assert settings.env is Environment.production
    assert settings.worker_concurrency == 7
    assert settings.burst_window_seconds == 0.5
    assert settings.llm_api_key is not None
    assert settings.llm_api_key.get_secret_value() == "sk-test-123"
    assert "sk-test-123" not in repr(settings)


def test_that_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", "7")
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")

    settings = Settings()

    assert settings.worker_concurrency is None
    assert settings.turn_concurrency == 1  # the SQLite default with the offline engine
    assert settings.database_url == "sqlite+aiosqlite:///./var/atende.db"


def test_that_concurrency_defaults_follow_the_database() -> None:
    sqlite = Settings(database_url="sqlite:///x.db")
    postgres = Settings(database_url="postgresql://db/atende")
    chosen = Settings(database_url="sqlite:///x.db", worker_concurrency=9, sender_concurrency=3)
    with_llm = Settings(
        database_url="sqlite:///x.db", llm_base_url="http://llm.local/v1", llm_model="m"
    )
    assert (sqlite.turn_concurrency, sqlite.send_concurrency) == (1, 16)
    assert with_llm.turn_concurrency == 500
    assert (postgres.turn_concurrency, postgres.send_concurrency) == (4, 64)
    assert (chosen.turn_concurrency, chosen.send_concurrency) == (9, 3)


def test_that_defaults_are_an_embedded_development_setup() -> None:
    settings = Settings()

    assert settings.env is Environment.development
    assert settings.is_sqlite
    assert settings.redis_url is None
    assert not settings.llm_enabled


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/atende", "postgresql+asyncpg://u:p@db:5432/atende"),
        ("postgresql://u:p@db:5432/atende", "postgresql+asyncpg://u:p@db:5432/atende"),
        ("postgresql+asyncpg://u:p@db/atende", "postgresql+asyncpg://u:p@db/atende"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite:////var/lib/atende.db", "sqlite+aiosqlite:////var/lib/atende.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_that_database_urls_get_the_async_driver(given: str, expected: str) -> None:
    assert Settings(database_url=given).database_url == expected


def test_that_a_database_url_from_the_environment_gets_the_async_driver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATENDE_DATABASE_URL", "postgres://u:p@db/atende")

    settings = Settings()

    assert settings.database_url == "postgresql+asyncpg://u:p@db/atende"
    assert not settings.is_sqlite


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("burst_window_seconds", 10.5),
        ("burst_window_seconds", -0.1),
        ("burst_max_seconds", 31),
        ("session_timeout_minutes", 0),
        ("worker_concurrency", 0),
        ("worker_concurrency", 2049),
        ("sender_concurrency", 0),
        ("send_max_attempts", 51),
        ("send_backoff_base_seconds", 0),
        ("breaker_failure_threshold", 0),
        ("webhook_max_body_bytes", 1023),
    ],
)
def test_that_values_out_of_bounds_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("burst_window_seconds", 10),
        ("burst_window_seconds", 0),
        ("burst_max_seconds", 30),
        ("worker_concurrency", 2048),
        ("send_max_attempts", 1),
        ("webhook_max_body_bytes", 1024),
    ],
)
def test_that_values_on_the_bounds_are_accepted(field: str, value: float) -> None:
    assert getattr(Settings(**{field: value}), field) == value


def test_that_an_out_of_bounds_environment_variable_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATENDE_BURST_WINDOW_SECONDS", "11")

    with pytest.raises(ValidationError, match="burst_window_seconds"):
        Settings()


@pytest.mark.parametrize(
    ("base_url", "model", "enabled"),
    [
        (None, None, False),
        ("https://llm.example.com/v1", None, False),
        (None, "gpt-4o-mini", False),
        ("", "gpt-4o-mini", False),
        ("https://llm.example.com/v1", "", False),
        ("https://llm.example.com/v1", "gpt-4o-mini", True),
    ],
)
def test_that_the_llm_is_enabled_only_with_a_base_url_and_a_model(
    base_url: str | None, model: str | None, enabled: bool
) -> None:
    settings = Settings(llm_base_url=base_url, llm_model=model)

    assert settings.llm_enabled is enabled


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("./var/demo_erp.db", "sqlite+aiosqlite:///var/demo_erp.db"),
        ("/srv/atende/demo.db", "sqlite+aiosqlite:////srv/atende/demo.db"),
        ("sqlite:///./var/demo_erp.db", "sqlite+aiosqlite:///./var/demo_erp.db"),
        ("postgres://db/demo", "postgresql+asyncpg://db/demo"),
        ("postgresql+asyncpg://db/demo", "postgresql+asyncpg://db/demo"),
        ("", None),
    ],
)
def test_that_the_demo_erp_database_is_a_path_or_a_url(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str | None
) -> None:
    monkeypatch.setenv("ATENDE_DEMO_ERP_URL", given)
    assert Settings().demo_erp_url == expected


@pytest.mark.parametrize("given", ["http://erp.example.com/api", "mysql://db/demo", "."])
def test_that_a_demo_erp_location_that_is_no_database_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("ATENDE_DEMO_ERP_URL", given)
    with pytest.raises(ValidationError) as error:
        Settings()
    (problem,) = error.value.errors()
    assert "\n" not in problem["msg"]
    assert "./var/demo_erp.db" in problem["msg"]
