"""Alembic environment: runs the migrations on the async engine, SQLite or PostgreSQL alike."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from atende.kit.db import create_engine
from atende.models import Base

config = context.config
target_metadata = Base.metadata


#: Full-text objects built with raw SQL in 0003 (FTS5 tables, a GIN expression index): not in
#: the models, so autogenerate must not offer to drop them.
RAW_SQL_OBJECTS = ("faq_fts", "ix_faq_passages_search")


def _modelled(name: str | None, _kind: str, _parents: object) -> bool:
    return not (name or "").startswith(RAW_SQL_OBJECTS)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_modelled,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


existing = config.attributes.get("connection")
if existing is not None:
    _run(existing)
else:
    asyncio.run(_run_async())
