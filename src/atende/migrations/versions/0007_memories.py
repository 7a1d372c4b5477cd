"""memories (long-term semantic recall)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import atende.kit.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # pgvector ranks recall in SQL when the server has it; without it (or without the right
        # to create it) recall still works, with a plain-SQL dot product (assistant/recall.py).
        op.execute(
            """
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
                    CREATE EXTENSION IF NOT EXISTS vector;
                END IF;
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE NOTICE 'pgvector not created: %', SQLERRM;
            END
            $$;
            """
        )
    op.create_table(
        "memories",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("dims", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "embedding",
            sa.LargeBinary().with_variant(postgresql.ARRAY(sa.REAL()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", atende.kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_memories_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_memories_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_memories_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memories")),
    )
    op.create_index(
        "ix_memories_contact",
        "memories",
        ["tenant_id", "contact_id", "model", "dims"],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        # With pgvector, a stored copy as `vector` that the search ranks with `<=>` where the
        # rows are. Casting `real[]` row by row at query time cost 18 ms for 1,000 memories
        # (docs/benchmarks.md, recall). Not in the ORM model: it exists only where pgvector does.
        op.execute(
            """
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
                    ALTER TABLE memories ADD COLUMN embedding_v vector
                        GENERATED ALWAYS AS (embedding::vector) STORED;
                END IF;
            END
            $$;
            """
        )


def downgrade() -> None:
    op.drop_index("ix_memories_contact", table_name="memories")
    op.drop_table("memories")
