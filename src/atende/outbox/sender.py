"""Delivering the outbox: one conversation at a time, in order, each attempt a row.

The worker holds the conversation's send lock. For each pending message: check the 24-hour window,
ask the channel's breaker, record the attempt as in flight (committed *before* the call, so a crash
mid-call is visible afterwards as "in doubt"), call the provider, record the outcome. Transient
failures (timeouts, 429, 5xx) are retried with exponential backoff and full jitter computed from the
persisted attempt count; other 4xx fail at once and keep the provider's code. A message that already
succeeded is never picked again: only ``pending`` rows are sent.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.channels.types import (
    ChannelDirectoryPort,
    ChannelRuntime,
    ChannelSender,
    DeliveryStatus,
    Recipient,
    SendError,
)
from atende.conversations import repository as repo
from atende.conversations.models import Conversation, Message
from atende.kit.breaker import CircuitBreaker
from atende.kit.clock import utcnow
from atende.kit.errors import BadRequest, NotFound
from atende.kit.logging import get_logger
from atende.kit.notify import Notifier
from atende.kit.priority import IngestFirst
from atende.outbox.content import from_json
from atende.outbox.models import DeliveryAttempt
from atende.outbox.service import SEND
from atende.outbox.window import refusal
from atende.queue.port import Job, JobQueue
from atende.tenancy.scope import bind_tenant

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SendSettings:
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 60.0
    breaker_failures: int = 5
    breaker_reset: float = 30.0


#: A generator of our own, so jitter neither depends on nor disturbs the global random state.
_jitter = random.Random()  # noqa: S311 - jitter, not cryptography


def backoff(attempt: int, settings: SendSettings, retry_after: float | None = None) -> float:
    """Full-jitter exponential backoff (AWS architecture blog's 'full jitter'), never shorter than
    what the provider asked for with Retry-After."""
    ceiling = min(settings.backoff_max, settings.backoff_base * 2 ** max(0, attempt - 1))
    delay = _jitter.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How an attempt ended: sent, retry, failed or refused, with the provider's answer."""

    name: str
    http_status: int | None = None
    code: str | None = None
    detail: str | None = None


def recipient_for(address: str) -> Recipient:
    # WhatsApp ids are digits; business-scoped user ids look like "BR.1502576394655843".
    # ASCII digits only: str.isdigit also accepts fullwidth and Arabic-Indic digits.
    wa_id = address.isascii() and address.isdigit()
    return Recipient(wa_id=address) if wa_id else Recipient(bsuid=address)


class OutboxSender:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        queue: JobQueue,
        directory: ChannelDirectoryPort,
        senders: Mapping[str, ChannelSender],
        settings: SendSettings,
        notifier: Notifier | None = None,
        priority: IngestFirst | None = None,
    ) -> None:
        self._priority = priority
        self._notifier = notifier
        self._sessions = sessions
        self._queue = queue
        self._directory = directory
        self._senders = senders
        self._settings = settings
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, channel_id: str) -> CircuitBreaker:
        found = self._breakers.get(channel_id)
        if found is None:
            found = CircuitBreaker(
                f"channel:{channel_id}",
                failure_threshold=self._settings.breaker_failures,
                reset_seconds=self._settings.breaker_reset,
            )
            self._breakers[channel_id] = found
        return found

    async def handle(self, job: Job) -> None:
        if self._priority is not None:
            await self._priority.yield_to_ingest()
        async with self._sessions() as session:
            bind_tenant(session, job.tenant_id)
            conversation = await session.get(Conversation, job.key)
            if conversation is None:
                return
            rows = list(
                await session.scalars(
                    select(Message)
                    .where(
                        Message.conversation_id == conversation.id,
                        Message.direction == "out",
                        Message.status == DeliveryStatus.pending.value,
                    )
                    .order_by(Message.id)
                )
            )
        if not rows:
            return
        channel = await self._directory.by_id(conversation.channel_id)
        structlog.contextvars.bind_contextvars(conversation_id=conversation.id)
        try:
            for row in rows:
                if row.correlation_id:
                    structlog.contextvars.bind_contextvars(correlation_id=row.correlation_id)
                if not await self._deliver(job, channel, conversation, row):
                    return  # the rest waits behind this one, to keep the order
        finally:
            if self._notifier is not None:
                await self._notifier.publish(conversation.id)

    async def give_up(self, job: Job, since: datetime) -> int:
        """The worker gave up on this conversation's sends (the handler kept raising, not the
        provider refusing: that is handled per message). The first pending message, the one
        everything waits behind, is marked failed so the rest go on."""
        del since
        async with self._sessions() as session:
            bind_tenant(session, job.tenant_id)
            row = await session.scalar(
                select(Message)
                .where(
                    Message.conversation_id == job.key,
                    Message.direction == "out",
                    Message.status == DeliveryStatus.pending.value,
                )
                .order_by(Message.id)
                .limit(1)
            )
        if row is None:
            return 0
        await self._finish(
            job,
            row,
            DeliveryStatus.failed,
            _Outcome("failed", detail="gave up: sending it kept failing (see the server's logs)"),
            None,
        )
        return 1

    async def _deliver(
        self, job: Job, channel: ChannelRuntime, conversation: Conversation, row: Message
    ) -> bool:
        """Try one message. False: stop here for now (retry scheduled), keep the order."""
        now = utcnow()
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            await self._queue.enqueue(job, delay=(row.next_attempt_at - now).total_seconds())
            return False
        content = from_json(row.content)
        reason = refusal(channel.kind, content, conversation.last_inbound_at, now)
        if reason is not None:
            await self._finish(
                job, row, DeliveryStatus.refused, _Outcome("refused", detail=reason), None
            )
            log.warning("send refused", message_id=row.id, reason=reason)
            return True
        sender = self._senders.get(channel.kind)
        if sender is None:
            reason = f"no sender for channel kind {channel.kind}"
            await self._finish(
                job, row, DeliveryStatus.failed, _Outcome("failed", detail=reason), None
            )
            return True
        breaker = self.breaker(channel.id)
        if not breaker.allow():
            await self._queue.enqueue(job, delay=max(breaker.retry_in(), 0.05))
            return False
        try:
            attempt_id = await self._start_attempt(job.tenant_id, row)
        except BaseException:
            breaker.release()
            raise
        if attempt_id is None:
            breaker.release()
            return False
        try:
            result = await sender.send(channel, recipient_for(row.address), content)
        except SendError as error:
            if error.transient:
                breaker.failure()
            else:
                breaker.success()  # the provider answered: the channel itself is healthy
            return await self._failed(job, row, attempt_id, error)
        except ValueError as error:  # payload limits: a bug in what we built, never retried
            breaker.success()
            await self._finish(
                job, row, DeliveryStatus.failed, _Outcome("failed", detail=str(error)), attempt_id
            )
            return True
        breaker.success()
        await self._record(
            job,
            row,
            attempt_id,
            _Outcome("sent"),
            status=DeliveryStatus.sent.value,
            provider_message_id=result.provider_message_id,
            next_attempt_at=None,
        )
        log.info("message sent", message_id=row.id, attempt=row.attempts + 1)
        return True

    async def _start_attempt(self, tenant_id: str, row: Message) -> int | None:
        """Claim the message for one attempt and record it as in flight, committed before the
        call. The claim is optimistic (same status and attempt count as we read), so two senders
        racing for one row cannot both send it. None: someone else has it."""
        async with self._sessions() as session:
            bind_tenant(session, tenant_id)
            claimed = await session.execute(
                update(Message)
                .where(
                    Message.id == row.id,
                    Message.status == DeliveryStatus.pending.value,
                    Message.attempts == row.attempts,
                )
                .values(attempts=row.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if int(claimed.rowcount) != 1:  # type: ignore[attr-defined]
                await session.rollback()
                return None
            # A Core INSERT … RETURNING: the ORM's unit of work cost more than the statement.
            attempt_id = await session.scalar(
                insert(DeliveryAttempt)
                .values(
                    tenant_id=tenant_id,
                    message_id=row.id,
                    number=row.attempts + 1,
                    started_at=utcnow(),
                    outcome="in_flight",
                )
                .returning(DeliveryAttempt.id)
            )
            await session.commit()
            return attempt_id

    async def _failed(self, job: Job, row: Message, attempt_id: int, error: SendError) -> bool:
        attempts = row.attempts + 1
        if error.transient and attempts < self._settings.max_attempts:
            delay = backoff(attempts, self._settings, error.retry_after)
            await self._record(
                job,
                row,
                attempt_id,
                _Outcome("retry", error.http_status, error.code, error.detail),
                next_attempt_at=utcnow() + timedelta(seconds=delay),
                error_code=error.code,
                error_title=error.detail[:500],
            )
            log.warning(
                "send failed; will retry",
                message_id=row.id,
                http_status=error.http_status,
                code=error.code,
                retry_in=round(delay, 3),
            )
            await self._queue.enqueue(job, delay=delay)
            return False
        await self._finish(
            job,
            row,
            DeliveryStatus.failed,
            _Outcome("failed", error.http_status, error.code, error.detail),
            attempt_id,
        )
        log.warning(
            "send failed", message_id=row.id, http_status=error.http_status, code=error.code
        )
        return True

    async def _finish(
        self,
        job: Job,
        row: Message,
        status: DeliveryStatus,
        outcome: _Outcome,
        attempt_id: int | None,
    ) -> None:
        """A terminal outcome: the message is failed or refused, and its conversation says so."""
        await self._record(
            job,
            row,
            attempt_id,
            outcome,
            status=status.value,
            error_code=outcome.code,
            error_title=(outcome.detail or "")[:500],
            next_attempt_at=None,
        )

    async def _record(
        self,
        job: Job,
        row: Message,
        attempt_id: int | None,
        outcome: _Outcome,
        **message: Any,
    ) -> None:
        """Write an attempt's outcome and the message's new state in one transaction."""
        async with self._sessions() as session:
            bind_tenant(session, job.tenant_id)
            now = utcnow()
            if "status" in message:
                message["status_at"] = now
            # synchronize_session=False: no object of this session holds these rows.
            await session.execute(
                update(Message)
                .where(Message.id == row.id)
                .values(**message)
                .execution_options(synchronize_session=False)
            )
            if attempt_id is None:  # decided before any call (refused): a finished attempt row
                session.add(
                    DeliveryAttempt(
                        tenant_id=job.tenant_id,
                        message_id=row.id,
                        number=row.attempts + 1,
                        started_at=now,
                        finished_at=now,
                        outcome=outcome.name,
                        error_code=outcome.code,
                        error_detail=outcome.detail,
                    )
                )
            else:
                await session.execute(
                    update(DeliveryAttempt)
                    .where(DeliveryAttempt.id == attempt_id)
                    .values(
                        outcome=outcome.name,
                        finished_at=now,
                        http_status=outcome.http_status,
                        error_code=outcome.code,
                        error_detail=outcome.detail,
                    )
                    .execution_options(synchronize_session=False)
                )
            if outcome.name in {"failed", "refused"}:
                conversation = await session.get(Conversation, job.key)
                if conversation is not None:
                    repo.append_event(
                        session,
                        conversation,
                        f"send_{outcome.name}",
                        {
                            "message_id": row.id,
                            "code": outcome.code,
                            "reason": (outcome.detail or "")[:500],
                        },
                        now=now,
                        correlation_id=job.correlation_id,
                    )
            await session.commit()


async def retry_failed(
    sessions: async_sessionmaker[AsyncSession], queue: JobQueue, tenant_id: str, message_id: int
) -> None:
    """Put a failed outbound message back in the outbox, for real: the sender will try it again."""
    async with sessions() as session:
        bind_tenant(session, tenant_id)
        row = await session.get(Message, message_id)
        if row is None or row.direction != "out":
            raise NotFound("no such outbound message")
        if row.status != DeliveryStatus.failed.value:
            raise BadRequest(f"only failed messages can be retried (this one is {row.status})")
        row.status = DeliveryStatus.pending.value
        row.attempts = 0
        row.next_attempt_at = None
        conversation_id = row.conversation_id
        await session.commit()
    if conversation_id is not None:
        await queue.enqueue(Job(SEND, conversation_id, tenant_id))
