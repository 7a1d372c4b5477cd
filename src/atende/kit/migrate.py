"""Schema migrations (Alembic), callable from the CLI and the tests."""

from __future__ import annotations

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
