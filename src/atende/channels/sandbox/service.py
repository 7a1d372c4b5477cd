"""The sandbox channel: a person plays the customer from a terminal (``atende chat``).

Messages enter through the same ingest as WhatsApp (record once, enqueue after commit) and replies
leave through the same outbox and sender; only the transport differs. Used in-process by
``atende chat`` and over HTTP by ``atende chat --url``.
"""

from __future__ import annotations

import hmac
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.channels.directory import ChannelDirectory
from atende.channels.types import (
    ChannelRuntime,
    DeliveryStatus,
    InboundMessage,
    MessageType,
    Sender,
    WebhookBatch,
)
from atende.conversations.models import Message
from atende.ingest.service import IngestService
from atende.kit.clock import utcnow
from atende.kit.errors import BadRequest, NotFound, Unauthorized
from atende.kit.notify import Notifier
from atende.tenancy.scope import bind_tenant

MAX_TEXT = 4096


def normalise_phone(raw: str) -> str:
    """Digits of an E.164 number, Brazil assumed when no country code is given."""
    try:
        number = phonenumbers.parse(raw, "BR")
    except phonenumbers.NumberParseException as exc:
        raise BadRequest("'from' is not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise BadRequest("'from' is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


@dataclass(frozen=True, slots=True)
class Replies:
    answered: bool
    replies: list[dict[str, Any]] = field(default_factory=list)
    last_id: int = 0


class SandboxService:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        directory: ChannelDirectory,
        ingest: IngestService,
        notifier: Notifier,
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self._ingest = ingest
        self._notifier = notifier

    async def channel(self, slug: str, token: str | None) -> ChannelRuntime:
        channel = await self._directory.by_slug(slug)
        if channel.kind != "sandbox":
            raise NotFound("unknown sandbox channel")
        expected = channel.secrets.get("token", "")
        if not token or not hmac.compare_digest(token.encode(), expected.encode()):
            raise Unauthorized("wrong or missing sandbox token")
        return channel

    async def submit(
        self, channel: ChannelRuntime, phone: str, text: str, *, name: str | None = None
    ) -> str:
        if not text.strip():
            raise BadRequest("empty message")
        if len(text) > MAX_TEXT:
            raise BadRequest(f"message longer than {MAX_TEXT} characters")
        message_id = f"sandbox.in.{uuid.uuid4().hex}"
        message = InboundMessage(
            provider_message_id=message_id,
            sender=Sender(wa_id=normalise_phone(phone), name=name),
            type=MessageType.text,
            timestamp=utcnow(),
            text=text,
            content={"body": text},
            provider_type="text",
        )
        await self._ingest.record(channel, WebhookBatch(messages=(message,)), correlation_id=None)
        return message_id

    async def replies(
        self,
        channel: ChannelRuntime,
        phone: str,
        *,
        message_id: str | None,
        after: int,
        wait: float,
    ) -> Replies:
        """Replies after ``after``; with ``wait``, hold until ``message_id`` is answered: it was
        processed and nothing of its conversation is left in the outbox (or the time is up)."""
        address = normalise_phone(phone)
        deadline = time.monotonic() + max(0.0, min(wait, 60.0))
        while True:
            since = self._notifier.version()
            result = await self._check(channel, address, message_id, after)
            remaining = deadline - time.monotonic()
            if result.answered or remaining <= 0:
                return result
            await self._notifier.wait_change(since, remaining)

    async def _check(
        self, channel: ChannelRuntime, address: str, message_id: str | None, after: int
    ) -> Replies:
        async with self._sessions() as session:
            bind_tenant(session, channel.tenant_id)
            inbound = None
            if message_id is not None:
                inbound = await session.scalar(
                    select(Message).where(
                        Message.channel_id == channel.id,
                        Message.provider_message_id == message_id,
                    )
                )
            rows = list(
                await session.scalars(
                    select(Message)
                    .where(
                        Message.channel_id == channel.id,
                        Message.address == address,
                        Message.direction == "out",
                        Message.id > after,
                    )
                    .order_by(Message.id)
                )
            )
        done = [r for r in rows if r.status != DeliveryStatus.pending.value]
        # Show replies in order only: stop at the first one still in the outbox.
        shown: list[Message] = []
        for row in rows:
            if row.status == DeliveryStatus.pending.value:
                break
            shown.append(row)
        answered = (
            inbound is not None and inbound.processed_at is not None and len(done) == len(rows)
        )
        return Replies(
            answered=answered,
            replies=[
                {
                    "id": r.id,
                    "type": r.type,
                    "status": r.status,
                    "text": r.text,
                    "content": r.content,
                }
                for r in shown
            ],
            last_id=shown[-1].id if shown else after,
        )
