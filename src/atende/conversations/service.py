"""One turn of one conversation: the heart of the worker.

Runs under the contact's lock (taken by the worker): load the pending messages, wait out a burst,
resolve contact and conversation, expire the session if idle, apply the ownership state machine, ask
the engine, and write the replies to the outbox, all in one transaction. Only after the commit is
the sender told. A crash anywhere before the commit leaves the messages pending, so the turn runs
again after a restart and the customer gets exactly one answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.assistant.port import Engine, Handoff, Remember, Say, Turn, TurnMessage
from atende.channels.types import ChannelRuntime, ChannelSender
from atende.contacts.models import IdentityKind
from atende.conversations import repository as repo
from atende.conversations.models import Conversation, Message
from atende.conversations.state import Effect, Owner, Trigger, transition
from atende.kit.clock import utcnow
from atende.kit.ids import new_id
from atende.kit.logging import get_logger
from atende.kit.notify import Notifier
from atende.outbox.service import SEND, add_outbound
from atende.queue.port import Job, JobQueue
from atende.tenancy.scope import bind_tenant

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TurnSettings:
    burst_window: float = 2.0
    burst_max: float = 6.0
    session_timeout: timedelta = timedelta(minutes=30)


class ChannelDirectoryPort(Protocol):
    async def by_id(self, channel_id: str) -> ChannelRuntime: ...


@dataclass(frozen=True, slots=True)
class ChannelLookup:
    """What a turn needs from channels: runtime config by id, and a sender per channel kind."""

    directory: ChannelDirectoryPort
    senders: Mapping[str, ChannelSender]


def _identities(channel: ChannelRuntime, sender: Mapping[str, str | None]) -> list[tuple[str, str]]:
    if channel.kind == "sandbox":
        return [(IdentityKind.sandbox, str(sender["wa_id"]))]
    found = []
    if sender.get("wa_id"):
        found.append((IdentityKind.wa_id, str(sender["wa_id"])))
    if sender.get("bsuid"):
        found.append((IdentityKind.bsuid, str(sender["bsuid"])))
    return found


class TurnProcessor:
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
        self._notifier = notifier
        self._sessions = sessions
        self._queue = queue
        self._channels = channels
        self._engine = engine
        self._settings = settings

    async def handle(self, job: Job) -> None:
        channel_id, address = job.key.split("|", 1)
        channel = await self._channels.directory.by_id(channel_id)
        async with self._sessions() as session:
            bind_tenant(session, channel.tenant_id)
            pending = await repo.pending_inbound(session, channel_id, address)
            if not pending:
                return
            hold = self._burst_hold(pending, utcnow())
            if hold > 0:
                await session.rollback()
                await self._queue.enqueue(job, delay=hold)
                return
            conversation_id = await self._run_turn(session, channel, pending, job.correlation_id)
        if self._notifier is not None:
            await self._notifier.publish(job.key)
        if conversation_id is not None:
            await self._queue.enqueue(
                Job(SEND, conversation_id, channel.tenant_id, job.correlation_id)
            )

    def _burst_hold(self, pending: list[Message], now: datetime) -> float:
        """Seconds to wait for more fragments of this burst (0: answer now)."""
        window = self._settings.burst_window
        if window <= 0:
            return 0.0
        newest = max(m.created_at for m in pending)
        oldest = min(m.created_at for m in pending)
        quiet_for = (now - newest).total_seconds()
        held_for = (now - oldest).total_seconds()
        if quiet_for >= window or held_for >= self._settings.burst_max:
            return 0.0
        return max(0.0, min(window - quiet_for, self._settings.burst_max - held_for))

    async def _run_turn(
        self,
        session: AsyncSession,
        channel: ChannelRuntime,
        pending: list[Message],
        correlation_id: str | None,
    ) -> str | None:
        now = utcnow()
        last = pending[-1]
        sender = last.content.get("sender") or {}
        contact = await repo.resolve_contact(
            session,
            _identities(channel, sender),
            name=sender.get("name"),
            phone=f"+{sender['wa_id']}" if sender.get("wa_id") else None,
            username=sender.get("username"),
        )
        conversation = await repo.conversation_for_update(session, channel.id, contact.id)
        new_session = False
        if conversation is None:
            conversation = Conversation(
                tenant_id=channel.tenant_id,
                channel_id=channel.id,
                contact_id=contact.id,
                address=sender.get("wa_id") or last.address,
                owner=Owner.bot.value,
                session_id=new_id(),
                session_started_at=now,
                last_activity_at=now,
                state={},
            )
            session.add(conversation)
            await session.flush()
            new_session = True
            repo.append_event(
                session,
                conversation,
                "session_started",
                {"session_id": conversation.session_id},
                now=now,
                correlation_id=correlation_id,
            )
        else:
            new_session = self._expire_if_idle(
                session, conversation, pending[0], now, correlation_id
            )

        structlog.contextvars.bind_contextvars(conversation_id=conversation.id)
        if not await repo.claim_inbound(session, [m.id for m in pending], conversation.id, now):
            await session.rollback()
            log.info("turn already taken by another worker")
            return None
        conversation.last_inbound_at = max(
            (m.provider_timestamp or m.created_at for m in pending), default=now
        )
        conversation.last_activity_at = now
        repo.append_event(
            session,
            conversation,
            "messages_received",
            {"message_ids": [m.id for m in pending], "types": [m.type for m in pending]},
            now=now,
            correlation_id=correlation_id,
        )
        step = transition(conversation.owner, Trigger.inbound)
        if step.owner != conversation.owner:
            self._change_owner(session, conversation, step.owner, "inbound", now, correlation_id)
        replied = False
        if Effect.answer in step.effects:
            sender_port = self._channels.senders.get(channel.kind)
            if sender_port is not None and last.provider_message_id:
                await self._mark_read(sender_port, channel, last.provider_message_id)
            replied = await self._answer(
                session,
                channel,
                conversation,
                contact.name,
                pending,
                new_session,
                now,
                correlation_id,
            )
        else:
            repo.append_event(
                session,
                conversation,
                "bot_silent",
                {"owner": conversation.owner},
                now=now,
                correlation_id=correlation_id,
            )
        await session.commit()
        log.info("turn done", messages=len(pending), owner=conversation.owner, replied=replied)
        return conversation.id if replied else None

    def _expire_if_idle(
        self,
        session: AsyncSession,
        conversation: Conversation,
        first: Message,
        now: datetime,
        correlation_id: str | None,
    ) -> bool:
        idle = first.created_at - conversation.last_activity_at
        if idle <= self._settings.session_timeout:
            return False
        repo.append_event(
            session,
            conversation,
            "session_expired",
            {
                "session_id": conversation.session_id,
                "idle_minutes": round(idle.total_seconds() / 60, 1),
            },
            now=now,
            correlation_id=correlation_id,
        )
        conversation.session_id = new_id()
        conversation.session_started_at = now
        conversation.state = {}
        repo.append_event(
            session,
            conversation,
            "session_started",
            {"session_id": conversation.session_id},
            now=now,
            correlation_id=correlation_id,
        )
        return True

    @staticmethod
    def _change_owner(
        session: AsyncSession,
        conversation: Conversation,
        owner: Owner,
        reason: str,
        now: datetime,
        correlation_id: str | None,
    ) -> None:
        repo.append_event(
            session,
            conversation,
            "owner_changed",
            {"from": conversation.owner, "to": owner.value, "reason": reason},
            now=now,
            correlation_id=correlation_id,
        )
        conversation.owner = owner.value

    async def _answer(
        self,
        session: AsyncSession,
        channel: ChannelRuntime,
        conversation: Conversation,
        contact_name: str | None,
        pending: list[Message],
        new_session: bool,
        now: datetime,
        correlation_id: str | None,
    ) -> bool:
        turn = Turn(
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.id,
            session_id=conversation.session_id,
            channel_kind=channel.kind,
            text="\n".join(m.text for m in pending if m.text),
            messages=tuple(TurnMessage(m.type, m.text, m.content) for m in pending),
            state=dict(conversation.state or {}),
            contact_name=contact_name,
            new_session=new_session,
            now=now,
            interactive=channel.kind != "sandbox",
        )
        actions = await self._engine.reply(turn)
        said: list[int] = []
        kinds: list[str] = []
        for action in actions:
            kinds.append(type(action).__name__.lower())
            if isinstance(action, Say):
                rows = add_outbound(
                    session, conversation, action.content, now=now, correlation_id=correlation_id
                )
                await session.flush()
                said.extend(r.id for r in rows)
            elif isinstance(action, Handoff):
                step = transition(conversation.owner, Trigger.handoff)
                if step.owner != conversation.owner:
                    self._change_owner(
                        session, conversation, step.owner, action.reason, now, correlation_id
                    )
            elif isinstance(action, Remember):
                conversation.state = dict(action.state)
        repo.append_event(
            session,
            conversation,
            "engine_replied",
            {"engine": self._engine.name, "actions": kinds, "outbound_ids": said},
            now=now,
            correlation_id=correlation_id,
        )
        return bool(said)

    @staticmethod
    async def _mark_read(sender: ChannelSender, channel: ChannelRuntime, message_id: str) -> None:
        # Best effort: a read receipt never blocks or fails a turn.
        try:
            async with asyncio.timeout(2.0):
                await sender.mark_read(channel, message_id, typing=True)
        except Exception as exc:
            log.info("mark-as-read failed", error=type(exc).__name__)
