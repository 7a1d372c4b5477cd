from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import REAL, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from atende.kit.clock import utcnow
from atende.kit.db import Base, BigId, UtcDateTime
from atende.tenancy.scope import TenantScoped


class Embedding(TypeDecorator[np.ndarray]):
    """A unit vector: ``real[]`` on PostgreSQL (pgvector casts it to ``vector`` when the
    extension is there), little-endian float32 bytes on SQLite (sqlite-vec's own format)."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(REAL()))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        vector = np.asarray(value, dtype="<f4")
        return vector.tolist() if dialect.name == "postgresql" else vector.tobytes()

    def process_result_value(self, value: Any, dialect: Dialect) -> np.ndarray | None:
        if value is None:
            return None
        if isinstance(value, bytes | bytearray | memoryview):
            return np.frombuffer(bytes(value), dtype="<f4")
        return np.asarray(value, dtype="<f4")


class Memory(TenantScoped, Base):
    """One answered turn of an earlier session, kept so that the agent can recall it by meaning
    ("a cadeira que chegou quebrada") in a later one. Written only when recall is on; the text is
    what the model saw (personal data already replaced)."""

    __tablename__ = "memories"
    __table_args__ = (Index("ix_memories_contact", "tenant_id", "contact_id", "model", "dims"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    session_id: Mapped[str] = mapped_column(String(32))
    #: Vectors of different models (or sizes) are not comparable: a search reads only its own.
    model: Mapped[str] = mapped_column(String(120))
    dims: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[np.ndarray] = mapped_column(Embedding)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
