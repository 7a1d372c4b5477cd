"""Rebuilding the queue from the database: on start, and periodically as a safety net.

Jobs only point at work; the work itself (unanswered inbound messages, undelivered outbound ones)
lives in the database. So a restart, a lost job or a worker in another process never loses a
message: this sweep finds it and enqueues it again. Duplicate jobs are harmless by design.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.channels.types import DeliveryStatus
from atende.conversations.models import Message
from atende.conversations.service import RESUME
from atende.deferred.models import DeferredKind, DeferredRequest, DeferredStatus
from atende.deferred.orders import ORDER
from atende.ingest.service import TURN, turn_key
from atende.kit.clock import utcnow
from atende.kit.logging import get_logger
from atende.outbox.models import DeliveryAttempt
from atende.outbox.service import SEND
from atende.queue.port import Job, JobQueue
from atende.tenancy.scope import ALL_TENANTS

log = get_logger(__name__)


async def mark_in_doubt(sessions: async_sessionmaker[AsyncSession]) -> int:
    """At start-up: attempts left "in flight" by a dead process may or may not have reached the
    provider. They are recorded as such; the message stays pending and is sent again, because a
    customer without an answer is worse than a rare duplicate (WhatsApp has no idempotency key)."""
    async with sessions() as session:
        result = await session.execute(
            update(DeliveryAttempt)
            .where(DeliveryAttempt.outcome == "in_flight")
            .values(outcome="in_doubt", finished_at=utcnow())
            .execution_options(**{ALL_TENANTS: True}, synchronize_session=False)
        )
        await session.commit()
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count:
        log.warning("attempts in doubt after a restart", attempts=count)
    return count


#: Keys enqueued per sweep: a backlog is worked through over several sweeps instead of one
#: long query holding SQLite's single connection while webhooks wait.
SWEEP_LIMIT = 1000


async def recover(
    sessions: async_sessionmaker[AsyncSession], queue: JobQueue, *, limit: int | None = None
) -> tuple[int, int]:
    """Enqueue contacts with unanswered messages and conversations with pending sends (all of
    them at start-up; at most ``limit`` of each in the periodic sweep)."""
    async with sessions() as session:
        options = {ALL_TENANTS: True}
        inbound = (
            await session.execute(
                select(Message.tenant_id, Message.channel_id, Message.address)
                .where(Message.direction == "in", Message.processed_at.is_(None))
                .distinct()
                .limit(limit),
                execution_options=options,
            )
        ).all()
        outbound = (
            await session.execute(
                select(Message.tenant_id, Message.conversation_id)
                .where(Message.direction == "out", Message.status == DeliveryStatus.pending.value)
                .distinct()
                .limit(limit),
                execution_options=options,
            )
        ).all()
        # Requests kept during an outage whose reminder a restart lost (due ones only: a job
        # enqueued early would find nothing to do and wait for the next sweep anyway).
        deferred = (
            await session.execute(
                select(DeferredRequest.tenant_id, DeferredRequest.kind, DeferredRequest.id)
                .add_columns(DeferredRequest.queue_key)
                .where(
                    DeferredRequest.status == DeferredStatus.pending.value,
                    DeferredRequest.next_attempt_at <= utcnow(),
                )
                .limit(limit),
                execution_options=options,
            )
        ).all()
    for tenant_id, channel_id, address in inbound:
        await queue.enqueue(Job(TURN, turn_key(channel_id, address), tenant_id))
    for tenant_id, conversation_id in outbound:
        if conversation_id is not None:
            await queue.enqueue(Job(SEND, conversation_id, tenant_id))
    for tenant_id, kind, row_id, queue_key in deferred:
        if kind == DeferredKind.turn.value and queue_key:
            await queue.enqueue(Job(RESUME, queue_key, tenant_id))
        elif kind == DeferredKind.order.value:
            await queue.enqueue(Job(ORDER, row_id, tenant_id))
    if inbound or outbound or deferred:
        log.info(
            "recovered pending work",
            turns=len(inbound),
            sends=len(outbound),
            deferred=len(deferred),
        )
    return len(inbound), len(outbound)
