from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from atende.kit.clock import utcnow
from atende.kit.db import Base, BigId, Clipped, Json, UtcDateTime
from atende.tenancy.scope import TenantScoped


class AiTurn(TenantScoped, Base):
    """How one assistant turn was answered: engine, model, prompt, tools, tokens, cost, latency
    and, when the LLM's answer was not used, why. Arguments are stored masked."""

    __tablename__ = "ai_turns"
    __table_args__ = (Index("ix_ai_turns_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    engine: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(Clipped(120))
    prompt_version: Mapped[str | None] = mapped_column(String(40))
    specialist: Mapped[str | None] = mapped_column(String(40))
    tool_calls: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    fallback_reason: Mapped[str | None] = mapped_column(Clipped(64))
    correlation_id: Mapped[str | None] = mapped_column(Clipped(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AdminNotice(TenantScoped, Base):
    """Something a tenant's admins must know (a token budget spent…); the admin UI lists them,
    until then `atende notices`. One per ``key`` (e.g. per budget and month)."""

    __tablename__ = "admin_notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
