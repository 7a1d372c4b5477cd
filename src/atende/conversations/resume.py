"""Answering what the customer asked during an outage, once the business's system is back.

When a tool finds the ERP down, the engine says so, keeps the step (``Defer``) and the turn
writes a ``deferred_requests`` row. A delayed ``resume`` job on the conversation's own key (so it
never runs beside one of its turns) tries the step again here, through the same engine:

* the system answers: the reply is sent as a turn of its own, prefixed by "the system is back";
* it is still down: the row is kept with a longer delay (jittered, exponential), silently;
* a human owns the conversation now, the customer opted out, or the request is older than the
  policy allows: the row is closed and the reason logged; nothing is sent.

The memory a step runs in is the conversation's if the session is the one the request was made
in; otherwise it is the snapshot the request carried, and it is not written back (a new session
starts clean, including its verification).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.assistant.port import Action, Defer, Engine, Turn
from atende.channels.types import ChannelRuntime
from atende.contacts.models import Contact
from atende.conversations import repository as repo
from atende.conversations.models import Conversation
from atende.conversations.service import (
    ChannelLookup,
    EventLog,
    TurnSettings,
    apply_actions,
    audit_of,
    unchanged,
)
from atende.conversations.state import Owner
from atende.conversations.turns import build_turn
from atende.deferred.metrics import count
from atende.deferred.models import DeferredRequest, DeferredStatus
from atende.kit.clock import utcnow
from atende.kit.logging import get_logger
from atende.kit.notify import Notifier
from atende.outbox.service import SEND
from atende.queue.port import Job, JobQueue
from atende.tenancy.scope import bind_tenant

log = get_logger(__name__)

#: Why a kept request was closed when its job kept failing (queue.worker gave it up).
GAVE_UP = "gave up: resuming it kept failing (see the server's logs)"

#: Kept requests of one conversation handled per job (an outage rarely piles up more).
_PER_JOB = 10


@dataclass(frozen=True, slots=True)
class _Plan:
    row: DeferredRequest
    conversation: Conversation
    #: Why the row is closed without running, or None to run it.
    close: tuple[DeferredStatus, str] | None
    turn: Turn | None
    same_session: bool


class ResumeProcessor:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        queue: JobQueue,
        channels: ChannelLookup,
        engine: Engine,
        settings: TurnSettings,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._queue = queue
        self._channels = channels
        self.engine = engine
        self._settings = settings
        self._notifier = notifier

    async def handle(self, job: Job) -> None:
        channel = await self._channels.directory.by_id(job.key.split("|", 1)[0])
        said_in: str | None = None
        for _ in range(_PER_JOB):
            plan = await self._plan(channel, job.key)
            if plan is None:
                break
            if isinstance(plan, float):
                # Not due yet (an early reminder, or a row re-kept by another worker): come back.
                await self._queue.enqueue(job, delay=plan)
                break
            actions = await self.engine.reply(plan.turn) if plan.turn is not None else ()
            outcome = await self._commit(plan, actions, job)
            if outcome == "kept":
                break
            if outcome:
                said_in = outcome
        if said_in is not None:
            if self._notifier is not None:
                await self._notifier.publish(job.key)
            await self._queue.enqueue(Job(SEND, said_in, channel.tenant_id, job.correlation_id))

    async def give_up(self, job: Job, since: datetime) -> int:
        """The worker gave up: the oldest kept request of the key, the one the job kept failing
        on, is closed as failed so the requests behind it go on."""
        async with self._sessions() as session:
            bind_tenant(session, job.tenant_id)
            row = await repo.next_deferred(session, job.key)
            if row is None or row.created_at > since:
                return 0
            closed = await repo.settle_deferred(
                session,
                row.id,
                row.attempts,
                status=DeferredStatus.failed.value,
                last_error=GAVE_UP,
                updated_at=utcnow(),
            )
            await session.commit()
        if closed:
            count(row.kind, DeferredStatus.failed.value)
        return int(closed)

    async def _plan(self, channel: ChannelRuntime, key: str) -> _Plan | float | None:
        now = utcnow()
        async with self._sessions() as session:
            bind_tenant(session, channel.tenant_id)
            row = await repo.next_deferred(session, key)
            if row is None or row.conversation_id is None:
                return None
            if row.next_attempt_at > now:
                return (row.next_attempt_at - now).total_seconds()
            conversation = await session.get(Conversation, row.conversation_id)
            assert conversation is not None  # a foreign key
            contact = await session.get(Contact, conversation.contact_id)
        structlog.contextvars.bind_contextvars(conversation_id=conversation.id)
        same_session = conversation.session_id == row.session_id
        close: tuple[DeferredStatus, str] | None = None
        if self._settings.deferred.expired(row.created_at, now):
            close = (DeferredStatus.expired, "too old")
        elif conversation.owner != Owner.bot.value:
            close = (DeferredStatus.cancelled, f"owner is {conversation.owner}")
        elif contact is not None and contact.opted_out_at is not None:
            close = (DeferredStatus.cancelled, "opted out")
        turn = None
        if close is None:
            turn = build_turn(
                tenant_id=channel.tenant_id,
                conversation_id=conversation.id,
                session_id=conversation.session_id,
                channel_kind=channel.kind,
                contact=contact,
                # No message: the customer is known by the contact's record alone.
                sender={},
                state=dict(conversation.state or {}) if same_session else {},
                new_session=False,
                now=now,
                resume=dict(row.payload),
            )
        return _Plan(row, conversation, close, turn, same_session)

    async def _commit(self, plan: _Plan, actions: Sequence[Action], job: Job) -> str:
        """``"kept"`` if the system is still down, else the conversation id if something is to be
        sent, else ``""``."""
        now = utcnow()
        row = plan.row
        async with self._sessions() as session:
            bind_tenant(session, row.tenant_id)
            conversation = await session.get(
                Conversation, plan.conversation.id, with_for_update=True, populate_existing=True
            )
            assert conversation is not None
            if not unchanged(plan.conversation, conversation):
                # A turn or an agent got there first: plan again with what is true now.
                return ""
            events = EventLog(session, now, job.correlation_id)
            step = str((row.payload.get("step") or {}).get("do"))
            if plan.close is not None:
                status, reason = plan.close
                if await repo.settle_deferred(
                    session, row.id, row.attempts, status=status.value, updated_at=now
                ):
                    count(row.kind, status.value)
                    events.add(conversation, f"deferred_{status.value}", step=step, reason=reason)
                    await session.commit()
                    log.warning("kept request closed", status=status.value, reason=reason)
                return ""
            if any(isinstance(action, Defer) for action in actions):
                delay = self._settings.deferred.delay(row.attempts + 1)
                kept = await repo.settle_deferred(
                    session,
                    row.id,
                    row.attempts,
                    attempts=row.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=delay),
                    last_error="unavailable",
                    updated_at=now,
                )
                await session.commit()
                if kept:
                    count(row.kind, "retried")
                    log.info("system still down; request kept", retry_in=round(delay, 1))
                    await self._queue.enqueue(job, delay=delay)
                    if self._notifier is not None:
                        await self._notifier.publish(job.key)
                return "kept"
            if not await repo.settle_deferred(
                session,
                row.id,
                row.attempts,
                status=DeferredStatus.done.value,
                attempts=row.attempts + 1,
                updated_at=now,
            ):
                await session.rollback()
                return ""
            said = await apply_actions(
                session, conversation, actions, events, remember=plan.same_session
            )
            await session.flush()
            audit = audit_of(actions)
            events.add(
                conversation,
                "deferred_resumed",
                step=step,
                waited_seconds=round((now - row.created_at).total_seconds(), 1),
                engine=self.engine.name,
                outbound_ids=[message.id for message in said],
                **audit,
            )
            await session.commit()
        count(row.kind, DeferredStatus.done.value)
        log.info("kept request answered", step=step, replies=len(said))
        return conversation.id if said else ""
