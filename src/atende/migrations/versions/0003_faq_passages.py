"""faq passages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 04:21:55.030798
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import atende.kit.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "faq_passages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("document", sa.String(length=200), nullable=False),
        sa.Column("heading", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", atende.kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_faq_passages_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_passages")),
    )
    # Full-text search over search_text, each engine with its own tool (not in the ORM models:
    # tests/test_migrations.py knows these names).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_faq_passages_search ON faq_passages "
            "USING GIN (to_tsvector('portuguese', search_text))"
        )
        op.execute("CREATE INDEX ix_faq_passages_tenant ON faq_passages (tenant_id)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE faq_fts USING fts5("
            "search_text, content='faq_passages', content_rowid='id')"
        )
        # External-content FTS5 tables are kept in sync by triggers (SQLite's documented way).
        op.execute(
            "CREATE TRIGGER faq_fts_ai AFTER INSERT ON faq_passages BEGIN "
            "INSERT INTO faq_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER faq_fts_ad AFTER DELETE ON faq_passages BEGIN "
            "INSERT INTO faq_fts(faq_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER faq_fts_au AFTER UPDATE ON faq_passages BEGIN "
            "INSERT INTO faq_fts(faq_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); "
            "INSERT INTO faq_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        op.execute("CREATE INDEX ix_faq_passages_tenant ON faq_passages (tenant_id)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS faq_fts")
    op.drop_table("faq_passages")
