from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from atende.kit.clock import utcnow
from atende.kit.db import Base, BigId, Clipped, Json, UtcDateTime
from atende.kit.ids import new_id
from atende.tenancy.scope import TenantScoped


class ChannelKind(StrEnum):
    whatsapp = "whatsapp"
    sandbox = "sandbox"


class Channel(TenantScoped, Base):
    """A tenant's endpoint on a messaging provider (a WhatsApp number, the sandbox, …)."""

    __tablename__ = "channels"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: Public, URL-safe name: ``/webhooks/whatsapp/{slug}``. Unique across tenants.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    #: Non-secret provider settings (phone number id, Graph API URL and version…).
    config: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    #: Secrets, each value Fernet-encrypted (see atende.kit.secrets).
    secrets: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ProviderEvent(TenantScoped, Base):
    """Webhook content that is not a message or a status (account updates, unknown fields…).

    Stored as received so nothing a provider tells us is lost, and acknowledged.
    """

    __tablename__ = "provider_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"), index=True)
    kind: Mapped[str] = mapped_column(Clipped(64))
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
