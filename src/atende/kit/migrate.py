"""Schema migrations (Alembic), callable from the CLI and the tests."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "atende:migrations")
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Blocking: runs its own event loop, so call it from sync code or a worker thread."""
    command.upgrade(alembic_config(database_url), revision)


async def schema_is_current(database_url: str) -> bool:
    """Whether the database's schema is at the newest migration (False for an empty database,
    or one an older release migrated)."""
    # Alembic logs its set-up (plugins, DDL mode) at info level, some of it on import; a check
    # before a command should print nothing.
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        return await _schema_is_current(database_url)
    finally:
        alembic_log.setLevel(level)


async def _schema_is_current(database_url: str) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

    from atende.kit.db import create_engine

    def current(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    engine = create_engine(database_url)
    try:
        heads = set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
        async with engine.connect() as connection:
            return await connection.run_sync(current) == heads
    finally:
        await engine.dispose()
