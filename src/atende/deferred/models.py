from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atende.kit.clock import utcnow
from atende.kit.db import Base, Json, UtcDateTime
from atende.kit.ids import new_id
from atende.tenancy.scope import TenantScoped


class DeferredKind(StrEnum):
    #: A customer's request in a conversation; resumed as a turn under the conversation's lock.
    turn = "turn"
    #: An order placed through the Business API; retried with its idempotency key.
    order = "order"


class DeferredStatus(StrEnum):
    pending = "pending"
    done = "done"
    #: The business's system answered with a refusal (no stock, invalid item…): final.
    failed = "failed"
    #: Kept longer than the tenant's limit without the system coming back.
    expired = "expired"
    #: The customer cancelled, or a human took the conversation over.
    cancelled = "cancelled"


class DeferredRequest(TenantScoped, Base):
    """A request the business's system could not serve, kept until it can.

    The row is the durable promise made to the customer ("I'll answer when the system is back");
    the queue only carries a delayed reminder, and the recovery sweep finds rows whose reminder a
    restart lost.
    """

    __tablename__ = "deferred_requests"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "idempotency_key"),
        Index("ix_deferred_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    #: The session the request was made in: its memory applies only while that session lasts.
    session_id: Mapped[str | None] = mapped_column(String(32))
    #: The turn worker's ordering key (``channel|address``), so a resume never races a turn.
    queue_key: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    #: What to do again: the engine's step and memory (turns) or the order request (orders).
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=DeferredStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Orders: the ERP's receipt once placed, or the refusal's reason.
    result: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
