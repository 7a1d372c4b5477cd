"""contact opt out

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:25:14.899336
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import atende.kit.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("opted_out_at", atende.kit.db.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("opted_out_at")
