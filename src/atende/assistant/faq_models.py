from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from atende.kit.clock import utcnow
from atende.kit.db import Base, BigId, UtcDateTime
from atende.tenancy.scope import TenantScoped


class FaqPassage(TenantScoped, Base):
    """One passage of a tenant's FAQ documents, the unit the assistant answers with.

    ``search_text`` is the passage lower-cased without accents: the full-text indexes are built
    on it (SQLite FTS5 table ``faq_fts``; on PostgreSQL a ``portuguese`` tsvector index created
    in the migration), so "horario" finds "Horário" on both engines without extensions.
    """

    __tablename__ = "faq_passages"
    __table_args__ = (Index("ix_faq_passages_tenant", "tenant_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document: Mapped[str] = mapped_column(String(200))
    heading: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
