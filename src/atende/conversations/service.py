"""One turn of one conversation: the heart of the worker.

Runs under the contact's lock (taken by the worker), in two phases:

1. *Plan*, reading only: the pending messages (waiting out a burst), the contact, the conversation
   and its state, the session expiry and the ownership transition; then the engine is asked, with
   no transaction open, because an engine may take seconds (an LLM) and SQLite has one writer.
2. *Commit*, in one transaction: contact and conversation created or locked, the messages claimed,
   the session, owner, memory, events and outbox rows written. If the conversation changed since
   the plan (an agent took it), the turn is planned again; if the messages were claimed by someone
   else, nothing is written.

Only after the commit is the sender told. A crash before the commit leaves the messages pending,
so the turn runs again after a restart and the customer gets exactly one answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy.event
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from atende.assistant.port import (
    Action,
    AiRecord,
    Audit,
    Defer,
    DropDeferred,
    Engine,
    Handoff,
    Memorize,
    NotifyAdmins,
    OptOut,
    Remember,
    Say,
    Turn,
)
from atende.assistant.recall import unit
from atende.assistant.recall_models import Memory
from atende.assistant.voice import SpeechToText, TranscriptionFailed, audio_filename
from atende.audit.models import AiTurn
from atende.audit.notices import add_notice
from atende.channels.types import (
    ChannelDirectoryPort,
    ChannelRuntime,
    ChannelSender,
    SendError,
)
from atende.contacts.models import Contact, IdentityKind
from atende.conversations import repository as repo
from atende.conversations.models import Conversation, Message
from atende.conversations.state import Effect, Owner, Transition, Trigger, transition
from atende.conversations.turns import build_turn, turn_messages, with_messages
from atende.deferred.metrics import count
from atende.deferred.models import DeferredKind, DeferredRequest, DeferredStatus
from atende.deferred.policy import RetryPolicy
from atende.kit.clock import utcnow
from atende.kit.ids import new_id
from atende.kit.logging import get_logger
from atende.kit.masking import sensitive
from atende.kit.notify import Notifier
from atende.kit.priority import IngestFirst
from atende.outbox.service import SEND, add_outbound
from atende.queue.port import Job, JobQueue
from atende.tenancy.scope import bind_tenant

log = get_logger(__name__)

#: The job that resumes requests kept during an outage; it shares the turn's lock (same key).
RESUME = "resume"

#: For the tenant's admins (pt-BR): names the stored messages, never their content.
TURN_FAILED_NOTICE = (
    "{count} mensagem(ns) de um cliente não puderam ser respondidas pelo assistente depois de "
    "várias tentativas e ficaram sem resposta (mensagem nº {first} em diante). O erro está nos "
    "logs do servidor; responda o cliente pelo atendimento humano."
)


@dataclass(frozen=True, slots=True)
class TurnSettings:
    burst_window: float = 2.0
    burst_max: float = 6.0
    session_timeout: timedelta = timedelta(minutes=30)
    deferred: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True, slots=True)
class ChannelLookup:
    """What a turn needs from channels: runtime config by id, and a sender per channel kind."""

    directory: ChannelDirectoryPort
    senders: Mapping[str, ChannelSender]


def e164(wa_id: object) -> str | None:
    """The phone behind a WhatsApp id, when it can be one: E.164 has at most 15 digits, so a
    longer id is kept as an identity but is no phone."""
    if isinstance(wa_id, str) and wa_id.isascii() and wa_id.isdigit() and len(wa_id) <= 15:
        return f"+{wa_id}"
    return None


def latest_inbound(
    current: datetime | None, messages: Sequence[Message], now: datetime
) -> datetime | None:
    """When the customer last wrote, for WhatsApp's 24-hour window. It only moves forward: a
    message delivered late with an old stamp never closes a window a newer one opened. A stamp
    later than the message's arrival is not believed (the arrival is), nor a stored value in the
    future (written before future stamps were clamped)."""
    stamps = [
        min(m.provider_timestamp, m.created_at) if m.provider_timestamp else m.created_at
        for m in messages
    ]
    if current is not None and current <= now:
        stamps.append(current)
    return max(stamps, default=None)


def _identities(channel: ChannelRuntime, sender: Mapping[str, str | None]) -> list[tuple[str, str]]:
    if channel.kind == "sandbox":
        return [(IdentityKind.sandbox, str(sender["wa_id"]))]
    found = []
    if sender.get("wa_id"):
        found.append((IdentityKind.wa_id, str(sender["wa_id"])))
    if sender.get("bsuid"):
        found.append((IdentityKind.bsuid, str(sender["bsuid"])))
    return found


@dataclass(frozen=True, slots=True)
class _Plan:
    pending: tuple[Message, ...]
    identities: tuple[tuple[str, str], ...]
    sender: Mapping[str, Any]
    conversation: Conversation | None
    expired: bool
    step: Transition
    turn: Turn | None
    #: The ids the turn was told about: allocated here for a new conversation or session, so the
    #: engine always sees the ids the commit will write.
    conversation_id: str
    session_id: str
    #: Voice notes transcribed for this turn (message id → text), stored with the messages.
    transcripts: Mapping[int, str] = field(default_factory=dict)


def _personal(plan: _Plan) -> list[str | None]:
    """What a regex cannot recognise as personal data: names and message bodies."""
    values: list[str | None] = [_text_of(plan.sender.get(key)) for key in ("name", "username")]
    values += [message.text for message in plan.pending]
    if plan.turn is not None:
        values += [plan.turn.contact_name, plan.turn.text]
    return values


def _text_of(value: object) -> str | None:
    return value if isinstance(value, str) else None


class ConversationChanged(Exception):
    """The conversation moved on between plan and commit (e.g. an agent took it over)."""


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
        priority: IngestFirst | None = None,
        transcriber: SpeechToText | None = None,
        transcribe_max_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self._transcriber = transcriber
        self._transcribe_max_bytes = transcribe_max_bytes
        self._priority = priority
        self._sessions = sessions
        self._queue = queue
        self._channels = channels
        self.engine = engine
        self._settings = settings
        self._notifier = notifier

    async def handle(self, job: Job) -> None:
        channel_id, address = job.key.split("|", 1)
        channel = await self._channels.directory.by_id(channel_id)
        conversation_id: str | None = None
        for _ in range(5):
            plan = await self._plan(channel, address)
            if plan is None:
                return
            if isinstance(plan, float):
                await self._queue.enqueue(job, delay=plan)
                return
            actions: Sequence[Action] = ()
            # The customer's name and words, masked in whatever this turn logs or raises.
            with sensitive(_personal(plan)):
                if plan.turn is not None:
                    sender = self._channels.senders.get(channel.kind)
                    last_id = plan.pending[-1].provider_message_id
                    if sender is not None and last_id:
                        await self._mark_read(sender, channel, last_id)
                    plan = await self._transcribe(channel, plan)
                    assert plan.turn is not None
                    actions = await self.engine.reply(plan.turn)
                try:
                    conversation_id = await self._commit(channel, plan, actions, job)
                except ConversationChanged:
                    log.info("conversation changed during the turn; planning again")
                    continue
            break
        else:
            raise RuntimeError("the conversation kept changing; the turn will be retried")
        if self._notifier is not None:
            await self._notifier.publish(job.key)
        if conversation_id is not None:
            await self._queue.enqueue(
                Job(SEND, conversation_id, channel.tenant_id, job.correlation_id)
            )
        if any(isinstance(action, Defer) for action in actions):
            await self._queue.enqueue(
                Job(RESUME, job.key, channel.tenant_id, job.correlation_id),
                delay=self._settings.deferred.delay(0),
            )

    async def give_up(self, job: Job, since: datetime) -> int:
        """The worker gave up on this contact's turn: the messages that were waiting when it
        first failed are marked failed (out of the pending set, so no sweep brings them back and
        the contact's later messages are answered), and the tenant's admins are told."""
        channel_id, address = job.key.split("|", 1)
        now = utcnow()
        async with self._sessions() as session:
            bind_tenant(session, job.tenant_id)
            ids = await repo.fail_inbound(session, channel_id, address, since, now)
            if ids:
                await add_notice(
                    session,
                    job.tenant_id,
                    key=f"turn_failed:{channel_id}:{ids[0]}",
                    kind="turn_failed",
                    message=TURN_FAILED_NOTICE.format(count=len(ids), first=ids[0]),
                )
            await session.commit()
        if self._notifier is not None:
            await self._notifier.publish(job.key)
        return len(ids)

    # -- phase 1: plan -------------------------------------------------------------------------

    async def _plan(self, channel: ChannelRuntime, address: str) -> _Plan | float | None:
        """None: nothing to do. A float: seconds to wait for the rest of a burst."""
        if self._priority is not None:
            await self._priority.yield_to_ingest()
        now = utcnow()
        async with self._sessions() as session:
            bind_tenant(session, channel.tenant_id)
            pending = await repo.pending_inbound(session, channel.id, address)
            if not pending:
                return None
            hold = self._burst_hold(pending, now)
            if hold > 0:
                return hold
            sender = pending[-1].content.get("sender") or {}
            identities = tuple(_identities(channel, sender))
            contact, conversation = await repo.find_contact(session, identities, channel.id)
        if conversation is not None:
            structlog.contextvars.bind_contextvars(conversation_id=conversation.id)
        expired = conversation is not None and self._is_idle(conversation, pending[0])
        owner = Owner(conversation.owner) if conversation is not None else Owner.bot
        step = transition(owner, Trigger.inbound)
        fresh = conversation is None or expired
        conversation_id = conversation.id if conversation is not None else new_id()
        session_id = new_id() if fresh or conversation is None else conversation.session_id
        turn = None
        if Effect.answer in step.effects:
            turn = build_turn(
                tenant_id=channel.tenant_id,
                conversation_id=conversation_id,
                session_id=session_id,
                channel_kind=channel.kind,
                contact=contact,
                sender=sender,
                messages=turn_messages(pending),
                state={} if fresh or conversation is None else dict(conversation.state or {}),
                new_session=fresh,
                now=now,
            )
        return _Plan(
            tuple(pending),
            identities,
            sender,
            conversation,
            expired,
            step,
            turn,
            conversation_id,
            session_id,
        )

    async def _transcribe(self, channel: ChannelRuntime, plan: _Plan) -> _Plan:
        """Voice notes enter the turn as text: downloaded through the channel's media flow and
        transcribed, when a transcription provider is configured. Any failure leaves the note
        untranscribed, and the engine asks the customer to write."""
        sender = self._channels.senders.get(channel.kind)
        notes = [
            m
            for m in plan.pending
            if m.type in {"audio", "voice"} and m.content.get("media_id") and not m.text
        ]
        if self._transcriber is None or sender is None or not notes or plan.turn is None:
            return plan
        transcripts: dict[int, str] = {}
        for note in notes:
            try:
                media = await sender.fetch_media(
                    channel, str(note.content["media_id"]), max_bytes=self._transcribe_max_bytes
                )
                transcripts[note.id] = await self._transcriber.transcribe(
                    media.data,
                    filename=audio_filename(media.mime_type),
                    mime_type=media.mime_type,
                )
            except (SendError, TranscriptionFailed) as error:
                log.warning("voice note not transcribed", error=type(error).__name__)
        if not transcripts:
            return plan
        turn = with_messages(plan.turn, turn_messages(plan.pending, transcripts))
        return dataclasses.replace(plan, turn=turn, transcripts=transcripts)

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

    def _is_idle(self, conversation: Conversation, first: Message) -> bool:
        return first.created_at - conversation.last_activity_at > self._settings.session_timeout

    # -- phase 2: commit -----------------------------------------------------------------------

    async def _commit(
        self,
        channel: ChannelRuntime,
        plan: _Plan,
        actions: Sequence[Action],
        job: Job,
    ) -> str | None:
        """Write the turn. Returns the conversation id when there is something to send."""
        if self._priority is not None:
            await self._priority.yield_to_ingest()
        now = utcnow()
        correlation_id = job.correlation_id
        sender = plan.sender
        async with self._sessions() as session:
            bind_tenant(session, channel.tenant_id)
            contact = await repo.resolve_contact(
                session,
                plan.identities,
                name=sender.get("name"),
                phone=e164(sender.get("wa_id")),
                username=sender.get("username"),
            )
            conversation = await repo.conversation_for_update(session, channel.id, contact.id)
            if not unchanged(plan.conversation, conversation):
                await session.rollback()
                raise ConversationChanged
            events = EventLog(session, now, correlation_id)
            if conversation is None:
                conversation = Conversation(
                    id=plan.conversation_id,
                    tenant_id=channel.tenant_id,
                    channel_id=channel.id,
                    contact_id=contact.id,
                    address=sender.get("wa_id") or plan.pending[-1].address,
                    owner=Owner.bot.value,
                    session_id=plan.session_id,
                    session_started_at=now,
                    last_activity_at=now,
                    state={},
                )
                session.add(conversation)
                await session.flush()
                events.add(conversation, "session_started", session_id=conversation.session_id)
            elif plan.expired:
                idle = plan.pending[0].created_at - conversation.last_activity_at
                events.add(
                    conversation,
                    "session_expired",
                    session_id=conversation.session_id,
                    idle_minutes=round(idle.total_seconds() / 60, 1),
                )
                conversation.session_id = plan.session_id
                conversation.session_started_at = now
                conversation.state = {}
                events.add(conversation, "session_started", session_id=conversation.session_id)
            structlog.contextvars.bind_contextvars(conversation_id=conversation.id)
            ids = [m.id for m in plan.pending]
            if not await repo.claim_inbound(session, ids, conversation.id, now):
                await session.rollback()
                log.info("turn already taken by another worker")
                return None
            await repo.store_transcripts(session, plan.pending, plan.transcripts)
            conversation.last_inbound_at = latest_inbound(
                conversation.last_inbound_at, plan.pending, now
            )
            conversation.last_activity_at = now
            events.add(
                conversation,
                "messages_received",
                message_ids=ids,
                types=[m.type for m in plan.pending],
            )
            if plan.step.owner != conversation.owner:
                events.owner(conversation, plan.step.owner, "inbound")
            said = await apply_actions(session, conversation, actions, events)
            await keep_deferred(session, conversation, actions, events, job.key)
            record_opt_out(contact, conversation, actions, events)
            audit = audit_of(actions)
            if plan.turn is None:
                events.add(conversation, "bot_silent", owner=conversation.owner)
            else:
                await session.flush()
                events.add(
                    conversation,
                    "engine_replied",
                    # The engine that actually answered: the agent's fallback turns are the
                    # offline engine's, and the event log must say so.
                    engine=next(
                        (a.engine for a in actions if isinstance(a, AiRecord)), self.engine.name
                    ),
                    actions=[type(a).__name__.lower() for a in actions],
                    outbound_ids=[row.id for row in said],
                    **audit,
                )
            await session.commit()
        log.info("turn done", messages=len(ids), owner=conversation.owner, replies=len(said))
        return conversation.id if said else None

    @staticmethod
    async def _mark_read(sender: ChannelSender, channel: ChannelRuntime, message_id: str) -> None:
        # Best effort: a read receipt never blocks or fails a turn.
        try:
            async with asyncio.timeout(2.0):
                await sender.mark_read(channel, message_id, typing=True)
        except Exception as exc:  # any failure here is harmless
            log.info("mark-as-read failed", error=type(exc).__name__)


async def apply_actions(
    session: AsyncSession,
    conversation: Conversation,
    actions: Sequence[Action],
    events: EventLog,
    *,
    remember: bool = True,
) -> list[Message]:
    """Replies become outbox rows, a handoff moves the owner, ``Remember`` replaces the memory
    (unless ``remember`` is off: a request resumed after its session ended), ``NotifyAdmins``
    leaves a notice for the tenant's admins, ``AiRecord`` goes to the audit trail."""
    said: list[Message] = []
    for action in actions:
        if isinstance(action, Say):
            said += add_outbound(
                session,
                conversation,
                action.content,
                now=events.now,
                correlation_id=events.correlation_id,
            )
        elif isinstance(action, Handoff):
            step = transition(conversation.owner, Trigger.handoff)
            if step.owner != conversation.owner:
                events.owner(conversation, step.owner, action.reason)
        elif isinstance(action, Remember) and remember:
            conversation.state = action.state.dump()
        elif isinstance(action, NotifyAdmins):
            # Once per key: a notice some turn or process wrote before is not written again.
            if await add_notice(
                session,
                conversation.tenant_id,
                key=action.key,
                kind=action.kind,
                message=action.text,
            ):
                log.warning("admins notified", kind=action.kind)
        elif isinstance(action, Memorize):
            vector = unit(action.embedding)
            session.add(
                Memory(
                    tenant_id=conversation.tenant_id,
                    contact_id=conversation.contact_id,
                    conversation_id=conversation.id,
                    session_id=conversation.session_id,
                    model=action.model,
                    dims=int(vector.shape[0]),
                    text=action.text,
                    embedding=vector,
                    created_at=events.now,
                )
            )
    record_ai(session, conversation, actions, events)
    return said


def record_opt_out(
    contact: Contact, conversation: Conversation, actions: Sequence[Action], events: EventLog
) -> None:
    """Opt-out (LGPD's right to object; WhatsApp's opt-out of business-initiated messages).

    Asking to stop sets it. Writing to us again afterwards clears it: the opt-out reply promises
    as much ("se mudar de ideia, é só escrever aqui"), and WhatsApp reads a customer's new
    message as the customer choosing the conversation again. Both are events in the
    conversation's log, which is the record of consent. While it is set nothing is sent on our
    initiative: requests kept during an outage are not resumed (resume.py)."""
    if any(isinstance(action, OptOut) for action in actions):
        if contact.opted_out_at is None:
            contact.opted_out_at = events.now
            events.add(conversation, "opted_out")
    elif contact.opted_out_at is not None:
        events.add(
            conversation,
            "opt_out_cleared",
            reason="customer_wrote_again",
            opted_out_at=contact.opted_out_at.isoformat(),
        )
        contact.opted_out_at = None


async def keep_deferred(
    session: AsyncSession,
    conversation: Conversation,
    actions: Sequence[Action],
    events: EventLog,
    queue_key: str,
) -> None:
    """Write the requests an engine kept for later (once each: asking again during the same
    outage does not queue a second answer) and drop them when the customer cancelled."""
    if any(isinstance(action, DropDeferred) for action in actions):
        dropped = await repo.cancel_deferred(session, conversation.id, events.now)
        if dropped:
            events.add(conversation, "deferred_cancelled", count=dropped, reason="customer")
    kept = [action.request for action in actions if isinstance(action, Defer)]
    if not kept:
        return
    waiting = await repo.pending_deferred(session, conversation.id)
    for request in kept:
        if any(row.payload.get("step") == request.get("step") for row in waiting):
            continue
        row = DeferredRequest(
            tenant_id=conversation.tenant_id,
            kind=DeferredKind.turn.value,
            conversation_id=conversation.id,
            session_id=conversation.session_id,
            queue_key=queue_key,
            payload=dict(request),
            status=DeferredStatus.pending.value,
            next_attempt_at=events.now,
            created_at=events.now,
        )
        session.add(row)
        waiting.append(row)
        count(DeferredKind.turn.value, "kept")
        events.add(conversation, "deferred", step=str(request.get("step", {}).get("do")))


def record_ai(
    session: AsyncSession, conversation: Conversation, actions: Sequence[Action], events: EventLog
) -> None:
    """One ``ai_turns`` row per engine record: the audit trail of how the turn was answered."""
    for action in actions:
        if not isinstance(action, AiRecord):
            continue
        session.add(
            AiTurn(
                tenant_id=conversation.tenant_id,
                conversation_id=conversation.id,
                engine=action.engine,
                model=action.model,
                prompt_version=action.prompt_version,
                specialist=action.specialist,
                tool_calls=[
                    {
                        "name": call.name,
                        "arguments": dict(call.arguments),
                        "ok": call.ok,
                        "summary": call.summary,
                    }
                    for call in action.tool_calls
                ],
                tokens_in=action.tokens_in,
                tokens_out=action.tokens_out,
                cost_usd=action.cost_usd,
                latency_ms=round(action.latency_ms, 2),
                fallback_reason=action.fallback_reason,
                correlation_id=events.correlation_id,
                created_at=events.now,
            )
        )


def audit_of(actions: Sequence[Action]) -> dict[str, Any]:
    audit: dict[str, Any] = {}
    for action in actions:
        if isinstance(action, Audit):
            audit.update(action.data)
    return audit


def unchanged(planned: Conversation | None, current: Conversation | None) -> bool:
    if planned is None or current is None:
        return planned is None and current is None
    return (planned.owner, planned.session_id, planned.updated_at) == (
        current.owner,
        current.session_id,
        current.updated_at,
    )


@dataclass(slots=True)
class EventLog:
    """Appends to a conversation's event log within the turn's transaction.

    The events are written in one INSERT when the session commits (they were an INSERT per
    flush, through the ORM's unit of work: three a turn); a rolled-back turn writes none."""

    session: AsyncSession
    now: datetime
    correlation_id: str | None
    _rows: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        sqlalchemy.event.listen(self.session.sync_session, "before_commit", self._write)

    def add(self, conversation: Conversation, type_: str, **data: Any) -> None:
        self._rows.append(
            repo.event_row(
                conversation, type_, data, now=self.now, correlation_id=self.correlation_id
            )
        )

    def _write(self, session: Session) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            repo.insert_events(session, rows)

    def owner(self, conversation: Conversation, owner: Owner, reason: str) -> None:
        self.add(
            conversation,
            "owner_changed",
            to=owner.value,
            reason=reason,
            **{"from": conversation.owner},
        )
        conversation.owner = owner.value
