"""Record what a channel received, exactly once, then tell the workers.

The webhook edge calls :meth:`IngestService.record` with an already verified and normalised
batch. Each inbound message is inserted once (unique on channel + provider id: providers
redeliver), statuses move outbound messages forward only, anything else is stored as a provider
event. Jobs are published only after the commit, so a worker never looks for a row that is not
there yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.channels.models import ProviderEvent
from atende.channels.types import (
    STATUS_RANK,
    ChannelRuntime,
    DeliveryStatus,
    InboundMessage,
    OtherEvent,
    StatusUpdate,
    WebhookBatch,
)
from atende.conversations.models import Message
from atende.kit.clock import utcnow
from atende.kit.db import insert_ignoring_conflicts
from atende.kit.jsonsafe import storable
from atende.kit.logging import get_logger
from atende.queue.port import Job, JobQueue
from atende.tenancy.scope import bind_tenant

log = get_logger(__name__)

TURN = "turn"


def turn_key(channel_id: str, address: str) -> str:
    """The ordering key of one contact on one channel: their turns never run concurrently."""
    return f"{channel_id}|{address}"


@dataclass(frozen=True, slots=True)
class IngestResult:
    new_messages: int
    duplicates: int
    statuses_applied: int


def _message_row(
    channel: ChannelRuntime, message: InboundMessage, correlation_id: str | None, now: datetime
) -> dict[str, Any]:
    sender = message.sender
    content = dict(message.content)
    content["sender"] = {
        "wa_id": sender.wa_id,
        "bsuid": sender.bsuid,
        "name": sender.name,
        "username": sender.username,
    }
    if message.context_id:
        content["context_id"] = message.context_id
    return {
        "tenant_id": channel.tenant_id,
        "channel_id": channel.id,
        "direction": "in",
        "type": message.type.value,
        "text": storable(message.text),
        "content": storable(content),
        "provider_message_id": storable(message.provider_message_id),
        "address": storable(sender.address),
        "provider_timestamp": message.timestamp,
        "created_at": now,
        "status": "received",
        "attempts": 0,
        "correlation_id": correlation_id,
    }


#: Column sizes of ``messages``: an id beyond them is not a real provider id.
MAX_PROVIDER_ID = 255
MAX_ADDRESS = 160


def _within_column_limits(batch: WebhookBatch) -> WebhookBatch:
    """Messages whose ids cannot be stored as ids are kept as provider events instead."""
    fits = [
        m
        for m in batch.messages
        if len(m.provider_message_id) <= MAX_PROVIDER_ID and len(m.sender.address) <= MAX_ADDRESS
    ]
    if len(fits) == len(batch.messages):
        return batch
    odd = [
        OtherEvent("oversized_identifier", {"provider_type": m.provider_type, "type": m.type})
        for m in batch.messages
        if m not in fits
    ]
    return WebhookBatch(tuple(fits), batch.statuses, (*batch.others, *odd))


class IngestService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], queue: JobQueue) -> None:
        self._sessions = sessions
        self._queue = queue

    async def record(
        self, channel: ChannelRuntime, batch: WebhookBatch, *, correlation_id: str | None
    ) -> IngestResult:
        now = utcnow()
        batch = _within_column_limits(batch)
        new_addresses: list[str] = []
        applied = 0
        async with self._sessions() as session:
            bind_tenant(session, channel.tenant_id)
            if batch.messages:
                rows = [_message_row(channel, m, correlation_id, now) for m in batch.messages]
                dialect = session.get_bind().dialect.name
                stmt = insert_ignoring_conflicts(
                    dialect, Message, ["channel_id", "provider_message_id"]
                ).returning(Message.address)
                result = await session.execute(stmt, rows)
                new_addresses = list(result.scalars())
            for status in batch.statuses:
                applied += await self._apply_status(session, channel, status, now)
            if batch.others:
                await session.execute(
                    insert(ProviderEvent),
                    [
                        {
                            "tenant_id": channel.tenant_id,
                            "channel_id": channel.id,
                            "kind": storable(other.kind)[:64],
                            "payload": storable(dict(other.payload)),
                            "created_at": now,
                        }
                        for other in batch.others
                    ],
                )
            await session.commit()
        for address in dict.fromkeys(new_addresses):
            await self._queue.enqueue(
                Job(
                    kind=TURN,
                    key=turn_key(channel.id, address),
                    tenant_id=channel.tenant_id,
                    correlation_id=correlation_id,
                )
            )
        duplicates = len(batch.messages) - len(new_addresses)
        if duplicates:
            log.info("redelivered messages ignored", duplicates=duplicates, channel=channel.slug)
        return IngestResult(len(new_addresses), duplicates, applied)

    @staticmethod
    async def _apply_status(
        session: AsyncSession, channel: ChannelRuntime, status: StatusUpdate, now: datetime
    ) -> int:
        """Move an outbound message forward; never backward, never out of a terminal state."""
        rank = STATUS_RANK[status.status]
        current_rank = case(STATUS_RANK, value=Message.status, else_=0)
        values: dict[str, Any] = {
            "status": status.status.value,
            "status_at": status.timestamp or now,
        }
        if status.status is DeliveryStatus.failed:
            values["error_code"] = storable(status.error_code)
            values["error_title"] = storable(status.error_title)
        result = await session.execute(
            update(Message)
            .where(
                Message.channel_id == channel.id,
                Message.provider_message_id == storable(status.provider_message_id),
                Message.direction == "out",
                current_rank < rank,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
