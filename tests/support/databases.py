"""Test databases: a migrated SQLite template copied per test, and one migrated PostgreSQL
database per test session, truncated between tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from pathlib import Path

import asyncpg
import pytest

from atende.kit.migrate import upgrade

PG_HOST = os.environ.get("ATENDE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("ATENDE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("ATENDE_TEST_PG_USER", "postgres")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

TABLES = (
    "service_tokens, ai_turns, admin_notices, deferred_requests, delivery_attempts, "
    "provider_events, conversation_events, messages, conversations, "
    "faq_passages, contact_identities, contacts, channels, tenants"
)


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    """In CI a missing PostgreSQL is a failure; on a laptop, a visible skip."""
    if postgres_reachable():
        return
    message = f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the PostgreSQL lane must run)")
    pytest.skip(f"{message}; start it to run the PostgreSQL lane")


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres"
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def create_pg_database(name: str) -> str:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = pg_url(name)
    upgrade(url)
    return url


def drop_pg_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(name: str) -> None:
    connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=name)
    try:
        await connection.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


def truncate_pg(name: str) -> None:
    asyncio.run(_truncate(name))


def sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "atende.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"
