"""Record what a channel received, exactly once, then tell the workers.

The webhook edge calls :meth:`IngestService.record` with an already verified and normalised
batch. Each inbound message is inserted once (unique on channel + provider id: providers
redeliver), statuses move outbound messages forward only, anything else is stored as a provider
event. Jobs are published only after the commit, so a worker never looks for a row that is not
there yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.channels.models import ProviderEvent
from atende.channels.types import (
    STATUS_RANK,
    ChannelRuntime,
    DeliveryStatus,
    InboundMessage,
    OtherEvent,
    Sender,
    StatusUpdate,
    WebhookBatch,
)
from atende.conversations.models import Message
from atende.kit.clock import utcnow
from atende.kit.db import insert_ignoring_conflicts
from atende.kit.jsonsafe import storable
from atende.kit.logging import get_logger
from atende.kit.masking import sensitive
from atende.kit.priority import IngestFirst
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


def _other_rows(
    channel: ChannelRuntime, batch: WebhookBatch, now: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": channel.tenant_id,
            "channel_id": channel.id,
            "kind": storable(other.kind)[:64],
            "payload": storable(dict(other.payload)),
            "created_at": now,
        }
        for other in batch.others
    ]


async def _known(session: AsyncSession, channel: ChannelRuntime, status: StatusUpdate) -> bool:
    found = await session.scalar(
        select(Message.id).where(
            Message.channel_id == channel.id,
            Message.provider_message_id == storable(status.provider_message_id),
        )
    )
    return found is not None


def _status_event(channel: ChannelRuntime, status: StatusUpdate, now: datetime) -> dict[str, Any]:
    return {
        "tenant_id": channel.tenant_id,
        "channel_id": channel.id,
        "kind": "status_unknown_message",
        "payload": storable(
            {
                "id": status.provider_message_id,
                "status": status.status.value,
                "error_code": status.error_code,
            }
        ),
        "created_at": now,
    }


#: How far ahead of its arrival a provider timestamp may be (clock skew) before it is clamped.
FUTURE_TOLERANCE = timedelta(minutes=5)


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
    timestamp = message.timestamp
    if timestamp is not None and timestamp > now + FUTURE_TOLERANCE:
        # A message cannot be written after it arrived: a stamp from the future (a device's
        # wrong clock, a forged payload) would keep the 24-hour window open for as long as it
        # says. The arrival time stands in, and the stamp as given is kept beside it.
        content["provider_timestamp_clamped"] = timestamp.isoformat()
        timestamp = now
    return {
        "tenant_id": channel.tenant_id,
        "channel_id": channel.id,
        "direction": "in",
        "type": message.type.value,
        "text": storable(message.text),
        "content": storable(content),
        "provider_message_id": storable(message.provider_message_id),
        "address": storable(sender.address),
        "provider_timestamp": timestamp,
        "created_at": now,
        "status": "received",
        "attempts": 0,
        "correlation_id": correlation_id,
    }


#: Column sizes of ``messages`` and ``contact_identities``: an id beyond them is not a real
#: provider id, and an id cannot be cut short (two people would become one).
MAX_PROVIDER_ID = 255
MAX_ADDRESS = 160


def _fitting_sender(sender: Sender) -> Sender | None:
    """The sender without an identifier too long to store; None when none is left."""
    wa_id = sender.wa_id if sender.wa_id and len(sender.wa_id) <= MAX_ADDRESS else None
    bsuid = sender.bsuid if sender.bsuid and len(sender.bsuid) <= MAX_ADDRESS else None
    if wa_id is None and bsuid is None:
        return None
    if (wa_id, bsuid) == (sender.wa_id, sender.bsuid):
        return sender
    return dataclasses.replace(sender, wa_id=wa_id, bsuid=bsuid)


def _within_column_limits(batch: WebhookBatch) -> WebhookBatch:
    """Messages whose ids cannot be stored as ids are kept as provider events instead; a sender
    with one identifier too long keeps the other."""
    fits: list[InboundMessage] = []
    odd: list[OtherEvent] = []
    changed = False
    for message in batch.messages:
        sender = _fitting_sender(message.sender)
        if sender is None or len(message.provider_message_id) > MAX_PROVIDER_ID:
            odd.append(
                OtherEvent(
                    "oversized_identifier",
                    {"provider_type": message.provider_type, "type": message.type},
                )
            )
        elif sender is message.sender:
            fits.append(message)
        else:
            fits.append(dataclasses.replace(message, sender=sender))
            changed = True
    if not odd and not changed:
        return batch
    return WebhookBatch(tuple(fits), batch.statuses, (*batch.others, *odd))


def _items(batch: WebhookBatch) -> list[tuple[WebhookBatch, OtherEvent]]:
    """Each message, status and event of a batch as a batch of its own, with the provider event
    that stands in for it if the database refuses it."""
    items: list[tuple[WebhookBatch, OtherEvent]] = []
    for message in batch.messages:
        opaque = {
            "id": message.provider_message_id,
            "from": message.sender.address,
            "provider_type": message.provider_type,
            "timestamp": message.timestamp.isoformat() if message.timestamp else None,
            "text": message.text,
            "content": dict(message.content),
        }
        items.append((WebhookBatch(messages=(message,)), OtherEvent("unstorable_message", opaque)))
    for status in batch.statuses:
        opaque = {
            "id": status.provider_message_id,
            "status": status.status.value,
            "error_code": status.error_code,
            "error_title": status.error_title,
        }
        items.append((WebhookBatch(statuses=(status,)), OtherEvent("unstorable_status", opaque)))
    for other in batch.others:
        # An event the database refused keeps only its kind: its payload is what it refused.
        kept = OtherEvent("unstorable_event", {"kind": storable(other.kind)[:64]})
        items.append((WebhookBatch(others=(other,)), kept))
    return items


@dataclass(slots=True)
class _Request:
    channel: ChannelRuntime
    batch: WebhookBatch
    correlation_id: str | None
    done: asyncio.Future[IngestResult]


@contextlib.contextmanager
def _logging_context(request: _Request) -> Iterator[None]:
    """The request's own correlation id and channel, and its customers' names and words masked
    (a database error names the failing row's values in some engines' messages)."""
    personal: list[str | None] = []
    for message in request.batch.messages:
        personal += [message.sender.name, message.sender.username, message.text]
    with (
        structlog.contextvars.bound_contextvars(
            correlation_id=request.correlation_id, channel=request.channel.slug
        ),
        sensitive(personal),
    ):
        yield


class IngestService:
    """Records webhook batches with *group commit*: concurrent requests share one transaction.

    Each webhook awaits the commit that covers its rows, so a 200 still means "durably stored";
    but N concurrent webhooks cost one transaction instead of N. Batches form naturally: while one
    commit is in progress, the next requests queue up behind it (no timer, no added latency when
    idle). On SQLite this also keeps webhook writes from contending for the single write lock.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        queue: JobQueue,
        *,
        max_batch: int = 256,
        priority: IngestFirst | None = None,
    ) -> None:
        self._priority = priority
        self._sessions = sessions
        self._queue = queue
        self._max_batch = max_batch
        self._waiting: list[_Request] = []
        self._wakeup: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None

    async def record(
        self, channel: ChannelRuntime, batch: WebhookBatch, *, correlation_id: str | None
    ) -> IngestResult:
        loop = asyncio.get_running_loop()
        request = _Request(
            channel, _within_column_limits(batch), correlation_id, loop.create_future()
        )
        self._waiting.append(request)
        if self._writer is None or self._writer.done():
            self._wakeup = asyncio.Event()
            # A context of its own: the task would otherwise keep the first webhook's
            # (correlation id, channel) for the life of the process. Each batch binds its own.
            self._writer = asyncio.create_task(
                self._write_forever(), name="ingest-writer", context=contextvars.Context()
            )
        assert self._wakeup is not None
        self._wakeup.set()
        if self._priority is not None:
            self._priority.busy()
        return await request.done

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        for request in self._waiting:
            if not request.done.done():
                request.done.set_exception(RuntimeError("ingest is shutting down"))
        self._waiting = []

    async def _write_forever(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._waiting:
                group = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._write_group(group)
            if self._priority is not None:
                self._priority.idle()

    async def _write_group(self, group: list[_Request]) -> None:
        try:
            results = await self._commit(group)
        except Exception:
            if len(group) == 1:
                with _logging_context(group[0]):
                    stored = await self._write_items(group[0])
                if stored is None:
                    return
                results = [stored]
            else:
                # One bad request must not fail its neighbours: store them one by one.
                for request in group:
                    await self._write_group([request])
                return
        for request, (result, jobs) in zip(group, results, strict=True):
            for job in jobs:
                await self._queue.enqueue(job)
            if not request.done.done():
                request.done.set_result(result)

    async def _write_items(self, request: _Request) -> tuple[IngestResult, list[Job]] | None:
        """A delivery the database refused as a whole, stored item by item: one bad message or
        status never costs the others (nor the 200 that stops Meta redelivering it for days).
        An item refused on its own is kept as a provider event. Only when even that fails (the
        database is down) does the delivery fail, and Meta sends it again later."""
        new = duplicates = applied = 0
        jobs: dict[str, Job] = {}
        for item, fallback in _items(request.batch):
            try:
                outcome = await self._commit([dataclasses.replace(request, batch=item)])
            except Exception as error:
                log.warning(
                    "a webhook item could not be stored; kept as a provider event",
                    kind=fallback.kind,
                    error=type(error).__name__,
                )
                try:
                    outcome = await self._commit(
                        [dataclasses.replace(request, batch=WebhookBatch(others=(fallback,)))]
                    )
                except Exception:
                    log.exception("webhook batch could not be stored")
                    request.done.set_exception(RuntimeError("could not store the webhook"))
                    return None
            ((result, item_jobs),) = outcome
            new += result.new_messages
            duplicates += result.duplicates
            applied += result.statuses_applied
            jobs.update((job.key, job) for job in item_jobs)
        return IngestResult(new, duplicates, applied), list(jobs.values())

    async def _commit(self, group: list[_Request]) -> list[tuple[IngestResult, list[Job]]]:
        now = utcnow()
        rows = [
            _message_row(request.channel, message, request.correlation_id, now)
            for request in group
            for message in request.batch.messages
        ]
        others = [
            row for request in group for row in _other_rows(request.channel, request.batch, now)
        ]
        new: set[tuple[str, str | None]] = set()
        applied: list[int] = []
        async with self._sessions() as session:
            if rows:
                # One INSERT for the whole group (rows carry their own tenant_id; an INSERT reads
                # nothing, so it needs no scope). RETURNING names the rows that were new.
                dialect = session.get_bind().dialect.name
                insert_new = insert_ignoring_conflicts(
                    dialect, Message, ["channel_id", "provider_message_id"]
                ).returning(Message.channel_id, Message.provider_message_id)
                new = {(r[0], r[1]) for r in (await session.execute(insert_new, rows)).all()}
            for request in group:
                count = 0
                if request.batch.statuses:
                    # Statuses read and change existing rows: scoped to the request's tenant.
                    bind_tenant(session, request.channel.tenant_id)
                    for status in request.batch.statuses:
                        moved = await self._apply_status(session, request.channel, status, now)
                        count += moved
                        if not moved and not await _known(session, request.channel, status):
                            # About a message we do not know (sent by another tool, or racing
                            # our own commit): kept as an event. Stale ones are simply ignored.
                            others.append(_status_event(request.channel, status, now))
                applied.append(count)
            if others:
                await session.execute(insert(ProviderEvent), others)
            await session.commit()
        out: list[tuple[IngestResult, list[Job]]] = []
        for request, count in zip(group, applied, strict=True):
            channel, messages = request.channel, request.batch.messages
            fresh = []
            for message in messages:
                key = (channel.id, storable(message.provider_message_id))
                if key in new:
                    new.discard(key)  # a second copy in the same group is a duplicate
                    fresh.append(message)
            jobs = [
                Job(
                    kind=TURN,
                    key=turn_key(channel.id, address),
                    tenant_id=channel.tenant_id,
                    correlation_id=request.correlation_id,
                )
                for address in dict.fromkeys(m.sender.address for m in fresh)
            ]
            duplicates = len(messages) - len(fresh)
            if duplicates:
                with _logging_context(request):
                    log.info("redelivered messages ignored", duplicates=duplicates)
            out.append((IngestResult(len(fresh), duplicates, count), jobs))
        return out

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
