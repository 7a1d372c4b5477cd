"""Migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from atende.kit.db import create_engine
from atende.models import Base

#: Full-text search objects each engine builds its own way in migration 0003 (not ORM models).
RAW_SQL_OBJECTS = ("faq_fts", "ix_faq_passages_search")


def _modelled(name: str | None, kind: str, _parents: object) -> bool:
    return not (name or "").startswith(RAW_SQL_OBJECTS)


async def test_that_the_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": _modelled}
        )
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []
