from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atende.kit.clock import utcnow
from atende.kit.db import Base, BigId, Clipped, Json, UtcDateTime
from atende.kit.ids import new_id
from atende.tenancy.scope import TenantScoped


class Conversation(TenantScoped, Base):
    """One per contact and channel; sessions come and go inside it."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel_id", "contact_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    #: Where replies go on this channel (a wa_id, a BSUID, a sandbox address).
    address: Mapped[str] = mapped_column(String(160))
    #: Who owns the conversation: bot, queued, human or closed (see conversations.state).
    owner: Mapped[str] = mapped_column(String(16), default="bot")
    session_id: Mapped[str] = mapped_column(String(32), default=new_id)
    session_started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: Start of WhatsApp's 24-hour customer-service window.
    last_inbound_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: The assistant's per-session memory (slots, pending confirmations…).
    state: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class ConversationEvent(TenantScoped, Base):
    """Append-only log of what happened to a conversation and why."""

    __tablename__ = "conversation_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    correlation_id: Mapped[str | None] = mapped_column(Clipped(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Message(TenantScoped, Base):
    """Every message in and out. Outbound rows are the outbox."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "provider_message_id"),
        # Pending inbound of one sender, and pending outbound of one conversation.
        Index("ix_messages_pending", "channel_id", "address", "processed_at"),
        Index("ix_messages_outbox", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"))
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    type: Mapped[str] = mapped_column(String(32))
    #: Plain text of the message (body, caption, chosen button title) when it has one.
    text: Mapped[str | None] = mapped_column(Text)
    #: Normalised content (inbound) or the action to send (outbound), provider-neutral.
    content: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    #: Inbound: the sender's address. Outbound: the recipient's.
    address: Mapped[str] = mapped_column(String(160))
    provider_timestamp: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: Inbound only: when a turn consumed this message (NULL = still to answer).
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: Inbound: received/processed, or failed (its turn kept failing and was given up; see
    #: queue.worker). Outbound: pending/sending/sent/delivered/read/failed/refused.
    status: Mapped[str] = mapped_column(String(16))
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error_code: Mapped[str | None] = mapped_column(Clipped(32))
    error_title: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    correlation_id: Mapped[str | None] = mapped_column(Clipped(64))
