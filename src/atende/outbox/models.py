from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from atende.kit.clock import utcnow
from atende.kit.db import Base, BigId, Clipped, UtcDateTime
from atende.tenancy.scope import TenantScoped


class DeliveryAttempt(TenantScoped, Base):
    """One row per attempt to hand an outbound message to its provider."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: in_flight, sent, retry, failed, refused, in_doubt (process died mid-call).
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(Clipped(32))
    error_detail: Mapped[str | None] = mapped_column(Text)
