"""The assistant port: ``engine.reply(turn) -> actions``.

Engines (the offline pt-BR engine now, an LLM agent later) see a provider-neutral turn and answer
with actions; they never send anything themselves. The conversation service turns actions into
outbox rows and state transitions in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from atende.assistant.memory import SessionMemory
from atende.channels.types import OutboundContent


@dataclass(frozen=True, slots=True)
class TurnMessage:
    type: str
    text: str | None
    content: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Turn:
    tenant_id: str
    conversation_id: str
    session_id: str
    channel_kind: str
    #: All fragments of a burst, in order, joined with newlines.
    text: str
    messages: tuple[TurnMessage, ...]
    #: The assistant's memory for this session (empty at a session's start).
    state: SessionMemory
    contact_name: str | None
    new_session: bool
    now: datetime
    #: Whether the channel renders buttons and lists (else engines send text menus).
    interactive: bool = True
    #: The contact's phone (E.164) when the channel knows it; None for WhatsApp usernames.
    contact_phone: str | None = None
    #: Set when this is not a customer message but a request kept during an outage, tried again
    #: (what ``Defer.request`` held); ``text`` and ``messages`` are then empty.
    resume: Mapping[str, Any] | None = None
    #: The contact this conversation is with (None on a contact's very first message).
    contact_id: str | None = None


@dataclass(frozen=True, slots=True)
class Say:
    """Send this content to the customer."""

    content: OutboundContent


@dataclass(frozen=True, slots=True)
class Handoff:
    """Hand the conversation to a human; the bot stays silent until a human gives it back."""

    reason: str


@dataclass(frozen=True, slots=True)
class Remember:
    """Replace the session memory with this one."""

    state: SessionMemory = field(default_factory=SessionMemory)


@dataclass(frozen=True, slots=True)
class OptOut:
    """The customer asked not to be contacted: recorded on the contact, never forgotten."""


@dataclass(frozen=True, slots=True)
class Audit:
    """What the engine did to decide (tools called, intent…): written to the event log."""

    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Defer:
    """The business's system is down: keep ``request`` and try it again later, in a turn whose
    ``resume`` is this mapping. An engine resuming a request defers again, silently, if the
    system is still down."""

    request: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DropDeferred:
    """The customer gave up (``cancelar``): forget the requests kept for later."""


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    name: str
    #: Arguments as the tool received them, masked (no CPF, phone… in the audit trail).
    arguments: Mapping[str, Any]
    ok: bool
    #: A short, masked summary of the result or the error code.
    summary: str


@dataclass(frozen=True, slots=True)
class AiRecord:
    """How the turn was answered, for the audit trail (one ``ai_turns`` row per turn)."""

    engine: str
    model: str | None = None
    prompt_version: str | None = None
    specialist: str | None = None
    tool_calls: tuple[ToolCallRecord, ...] = ()
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    #: Why the LLM's answer was not used (timeout, rate_limited, grounding…), None if it was.
    fallback_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Memorize:
    """Keep this turn for long-term recall (``assistant.recall``): ``text`` as the model saw it
    and the embedding of the customer's message, from ``model``."""

    text: str
    embedding: tuple[float, ...]
    model: str


@dataclass(frozen=True, slots=True)
class NotifyAdmins:
    """Leave a notice for the tenant's admins (`atende notices`, the admin inbox), written in the
    turn's transaction: a turn that rolls back tells nobody. ``key`` makes it once only (e.g. one
    per budget and month): a notice whose key was written before is not written again."""

    kind: str
    key: str
    #: pt-BR, for the admins.
    text: str


Action = (
    Say
    | Handoff
    | Remember
    | OptOut
    | Audit
    | Defer
    | DropDeferred
    | AiRecord
    | Memorize
    | NotifyAdmins
)


class Engine(Protocol):
    name: str

    async def reply(self, turn: Turn) -> Sequence[Action]: ...
