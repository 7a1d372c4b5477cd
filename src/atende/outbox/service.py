"""Writing to the outbox: one row per message to send, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from atende.channels.text import MAX_TEXT, split_text
from atende.channels.types import DeliveryStatus, OutboundContent, TextContent
from atende.conversations.models import Conversation, Message
from atende.outbox.content import message_type, preview_text, to_json

SEND = "send"

__all__ = ["MAX_TEXT", "SEND", "add_outbound", "split_text"]


def add_outbound(
    session: AsyncSession,
    conversation: Conversation,
    content: OutboundContent,
    *,
    now: datetime,
    correlation_id: str | None,
) -> list[Message]:
    """Queue ``content`` for delivery. Long text is split here, before rows exist, so each part
    has its own delivery state and provider id."""
    if isinstance(content, TextContent) and len(content.body) > MAX_TEXT:
        contents: list[OutboundContent] = [
            TextContent(part, content.preview_url) for part in split_text(content.body)
        ]
    else:
        contents = [content]
    rows = [
        Message(
            tenant_id=conversation.tenant_id,
            channel_id=conversation.channel_id,
            conversation_id=conversation.id,
            direction="out",
            type=message_type(item),
            text=preview_text(item),
            content=to_json(item),
            address=conversation.address,
            created_at=now,
            status=DeliveryStatus.pending.value,
            attempts=0,
            correlation_id=correlation_id,
        )
        for item in contents
    ]
    session.add_all(rows)
    return rows
