"""Database engine, declarative base, and the SQL idioms that differ between the engines."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, String, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are identical on both engines.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: 64-bit ids on PostgreSQL, SQLite's rowid alias (INTEGER PRIMARY KEY) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
#: JSONB on PostgreSQL, JSON text on SQLite.
Json = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use atende.kit.clock.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Clipped(TypeDecorator[str]):
    """A ``varchar(n)`` fed by data from outside (a provider's names and error codes, a caller's
    request id): a longer value is cut to ``n`` characters instead of failing the statement.

    PostgreSQL refuses a value longer than the column ("value too long for type character
    varying"), SQLite stores it whole; cutting here, for every statement that binds the column
    (ORM and Core inserts, updates, comparisons), makes both engines store the same thing and keeps
    one odd value from failing a webhook or a turn. Only for descriptive values: an identifier cut
    short could merge two people, so identifiers are checked where they enter (``atende.ingest``).
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or len(value) <= self.length:
            return value
        return value[: self.length]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Every engine of the process. ``hide_parameters``: a failed statement's error (and its log
    line, and SQLAlchemy's echo) never shows the bound values, which are names, message bodies,
    documents and phones."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:":
            _create_private(Path(path))
        # One connection: SQLite has a single writer, and concurrent write transactions would
        # wait inside SQLite's busy handler (sleeping a thread, holding a pooled connection)
        # instead of in asyncio. Measured: fewer turns per second and seconds of p99 with a pool.
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            hide_parameters=True,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
    )


def _create_private(path: Path) -> None:
    """Create a new SQLite file readable by its owner only (0600, like ``secret.key``): it holds
    customers' messages. SQLite gives its ``-wal`` and ``-shm`` files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)  # an empty file is a valid, empty SQLite database


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed while the single writer commits; NORMAL is durable across process
    # crashes in WAL mode (only an OS crash may lose the last transactions).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def insert_ignoring_conflicts(dialect_name: str, table: Any, index_elements: list[str]) -> Insert:
    """``INSERT … ON CONFLICT (cols) DO NOTHING`` in the dialect at hand (both engines have it)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=index_elements)
