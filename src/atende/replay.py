"""`atende replay`: a stored conversation's customer turns asked again of today's assistant.

When the prompts, the model, the tenant's templates or the NLU change, an operator wants to know
what the assistant would answer now to what customers actually wrote. The replay reads the
conversation's event log (``messages_received`` → the turn's messages, the following
``engine_replied`` → what was answered), rebuilds each :class:`Turn` the way the turn processor
does, asks the engine the container built from the current settings, and compares the texts.

A replay changes nothing, by construction rather than by care:

* the engine is called directly, never through the turn processor, so no message, event, memory,
  outbox row or audit record is written and nothing is sent;
* the session memory lives only in this process, threaded from one replayed turn to the next
  through the engine's own ``Remember`` actions;
* the engine is a fresh copy of the container's, wired to :class:`ReplayRegistry`, whose
  connectors answer every read from the tenant's real ERP but fake ``place_order``;
* its token budget is checked like the live engine's; the notice a spent budget asks for is an
  action (``NotifyAdmins``), and the replay applies none but ``Remember``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.assistant.agent.budget import TokenBudget
from atende.assistant.agent.engine import AgentEngine
from atende.assistant.dialogue.engine import DialogueEngine
from atende.assistant.memory import SessionMemory
from atende.assistant.port import AiRecord, Engine, Remember, Say, Turn
from atende.brazil.money import format_brl
from atende.brazil.plural import count_of
from atende.business.registry import ConnectorRegistry
from atende.channels.models import Channel
from atende.channels.types import (
    ButtonsContent,
    ListContent,
    MediaContent,
    OutboundContent,
    TemplateContent,
    TextContent,
)
from atende.config import Settings
from atende.connectors.port import (
    ConnectorResolver,
    Customer,
    ErpConnector,
    Order,
    OrderReceipt,
    OrderRequest,
    Product,
    Refused,
    SecondCopy,
    Titulo,
)
from atende.connectors.resilience import ResilientConnector
from atende.contacts.models import Contact
from atende.conversations import repository as repo
from atende.conversations.models import Conversation, ConversationEvent, Message
from atende.conversations.turns import build_turn, turn_messages
from atende.kit.errors import NotFound
from atende.kit.logging import get_logger
from atende.main import Container
from atende.outbox.content import from_json
from atende.tenancy.models import Tenant
from atende.tenancy.scope import bind_tenant

log = get_logger(__name__)

Status = Literal["same", "different", "skipped"]

#: The id a simulated order gets, so nobody mistakes it for a real one.
SIMULATED_ORDER_ID = "SIMULADO"


class ReplayError(Exception):
    """The replay cannot run (unknown tenant or conversation, an engine it cannot make safe)."""


# -- the read-only ERP --------------------------------------------------------------------------


class ReadOnlyErp:
    """An :class:`ErpConnector` that reads from the real one and never places an order.

    ``place_order`` checks the products like an ERP would (unknown SKU, not enough stock) and
    answers a receipt marked as simulated, priced from the real catalogue, so the rest of the
    replayed turn reads like the real thing. Every simulated order is counted.
    """

    def __init__(self, inner: ErpConnector) -> None:
        self._inner = inner
        self.name = inner.name
        self.simulated_orders = 0

    async def find_customer(self, document: str) -> Customer:
        return await self._inner.find_customer(document)

    async def open_titulos(self, document: str) -> list[Titulo]:
        return await self._inner.open_titulos(document)

    async def second_copy(self, document: str, titulo_id: str) -> SecondCopy:
        return await self._inner.second_copy(document, titulo_id)

    async def recent_orders(self, document: str, days: int = 60) -> list[Order]:
        return await self._inner.recent_orders(document, days)

    async def get_order(self, document: str, order_id: str) -> Order:
        return await self._inner.get_order(document, order_id)

    async def get_product(self, sku: str) -> Product:
        return await self._inner.get_product(sku)

    async def search_products(self, query: str, limit: int = 10) -> list[Product]:
        return await self._inner.search_products(query, limit)

    async def place_order(self, request: OrderRequest, idempotency_key: str) -> OrderReceipt:
        total = 0
        for item in request.items:
            product = await self._inner.get_product(item.sku.strip().upper())
            if not product.available or product.stock < item.quantity:
                raise Refused(f"Não temos {count_of(item.quantity, 'unidade')} de {product.name}.")
            total += product.price_cents * item.quantity
        self.simulated_orders += 1
        return OrderReceipt(
            order_id=SIMULATED_ORDER_ID,
            status="created",
            total_cents=total,
            message=f"Pedido simulado (replay, não registrado). Total: {format_brl(total)}.",
        )


class ReplayRegistry:
    """The container's registry as the engines see it (a :class:`ConnectorResolver`), except
    that orders are simulated.

    Why a wrapper around the registry and a fresh engine, rather than patching the container's
    registry for the duration: the container's engine and registry may be serving live turns in
    the same process (tests, a server); patching them would make real customers' orders fake, or
    a replay's orders real if the patch were undone too early. A wrapper reaches nothing but the
    replay's own engine. Every adapter comes from ``real``, which owns and closes it.
    """

    def __init__(self, real: ConnectorRegistry, settings: Settings) -> None:
        self._real = real
        self._settings = settings
        self._wrapped: dict[str, tuple[ResilientConnector, ReadOnlyErp]] = {}

    async def erp(self, tenant_id: str) -> ResilientConnector:
        return (await self._pair(tenant_id))[0]

    async def read_only(self, tenant_id: str) -> ReadOnlyErp:
        return (await self._pair(tenant_id))[1]

    async def _pair(self, tenant_id: str) -> tuple[ResilientConnector, ReadOnlyErp]:
        found = self._wrapped.get(tenant_id)
        if found is None:
            real = await self._real.erp(tenant_id)
            read_only = ReadOnlyErp(real.inner)
            settings = self._settings
            # The same policy as the container's connectors, and the same breaker: an ERP the
            # process knows to be down is not hammered by a replay either.
            wrapped = ResilientConnector(
                read_only,
                tenant_id=tenant_id,
                timeout=settings.erp_timeout_seconds,
                attempts=settings.erp_attempts,
                backoff_max=settings.erp_backoff_max_seconds,
                breaker=real.breaker,
            )
            found = self._wrapped[tenant_id] = (wrapped, read_only)
        return found


def replay_engine(container: Container, registry: ConnectorResolver) -> Engine:
    """A copy of ``container.engine`` whose business tools go through ``registry``.

    Built from the same parts as the container's (NLU, tenant profiles, FAQ, LLM defaults, the
    agent's own clients), so it answers as the live engine would. An engine of another kind
    cannot be rewired safely and is refused rather than run against the real ERP.
    """
    live = container.engine
    if not isinstance(live, AgentEngine | DialogueEngine):
        raise ReplayError(f"cannot replay safely with the engine {live.name!r}")
    offline = DialogueEngine(
        nlu=container.nlu,
        registry=registry,
        profiles=container.profiles,
        faq=container.faq,
        pdf_links=container.pdf_links,
    )
    if isinstance(live, DialogueEngine):
        return offline
    return AgentEngine(
        fallback=offline,
        nlu=container.nlu,
        registry=registry,
        profiles=container.profiles,
        faq=container.faq,
        box=container.box,
        defaults=live.defaults,
        # Its own counter: replayed tokens are not the live engine's usage.
        budget=TokenBudget(container.sessions),
        # The live agent's clients (and their connection pools), closed with the container.
        client_factory=live.client,
        pdf_links=container.pdf_links,
    )


# -- the conversation as it happened ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedTurn:
    """One turn of the event log: the customer's messages (none for a resumed request) and the
    answer sent then. ``skipped`` says why the turn is not asked again (None: it is)."""

    messages: tuple[Message, ...]
    answer: tuple[Message, ...]
    at: datetime
    new_session: bool
    session_id: str
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    tenant_id: str
    conversation: Conversation
    channel_kind: str
    contact: Contact | None
    #: What the channel said of the customer on their last message.
    sender: Mapping[str, Any]
    turns: tuple[RecordedTurn, ...]


async def load(
    sessions: async_sessionmaker[AsyncSession], tenant_slug: str, conversation_id: str
) -> Recorded:
    """The conversation's turns from its event log, in order, read in one session."""
    async with sessions() as session:
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == tenant_slug))
        if tenant_id is None:
            raise ReplayError(f"no tenant {tenant_slug!r}")
        bind_tenant(session, tenant_id)
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise ReplayError(f"no conversation {conversation_id!r} in tenant {tenant_slug!r}")
        channel = await session.get(Channel, conversation.channel_id)
        contact = await session.get(Contact, conversation.contact_id)
        events = await repo.events(session, conversation.id)
        rows = await session.scalars(
            select(Message).where(Message.conversation_id == conversation.id)
        )
        messages = {row.id: row for row in rows}
    turns = tuple(_turns(events, messages, conversation.session_id))
    return Recorded(
        tenant_id=tenant_id,
        conversation=conversation,
        channel_kind=channel.kind if channel is not None else "",
        contact=contact,
        sender=_sender(turns),
        turns=turns,
    )


def _turns(
    events: Sequence[ConversationEvent], messages: Mapping[int, Message], session_id: str
) -> Iterator[RecordedTurn]:
    def rows(ids: Any) -> tuple[Message, ...]:
        return tuple(messages[int(i)] for i in ids or () if int(i) in messages)

    received: ConversationEvent | None = None
    new_session = True
    session = session_id

    def turn(answer: tuple[Message, ...], at: datetime, skipped: str | None) -> RecordedTurn:
        nonlocal new_session
        assert received is not None
        found = rows(received.data.get("message_ids"))
        times = [m.created_at for m in found]
        recorded = RecordedTurn(
            found, answer, max(times, default=at), new_session, session, skipped
        )
        new_session = False
        return recorded

    for event in events:
        if event.type == "session_started":
            if received is not None:  # messages never answered (should not happen): shown so
                yield turn((), received.created_at, "no answer recorded")
                received = None
            new_session = True
            session = str(event.data.get("session_id") or session)
        elif event.type == "messages_received":
            if received is not None:
                yield turn((), received.created_at, "no answer recorded")
            received = event
        elif event.type == "engine_replied" and received is not None:
            yield turn(rows(event.data.get("outbound_ids")), event.created_at, None)
            received = None
        elif event.type == "bot_silent" and received is not None:
            owner = event.data.get("owner", "human")
            yield turn((), event.created_at, f"not answered by the bot (owner: {owner})")
            received = None
        elif event.type == "deferred_resumed":
            answer = rows(event.data.get("outbound_ids"))
            yield RecordedTurn((), answer, event.created_at, False, session, "system-initiated")
    if received is not None:
        yield turn((), received.created_at, "no answer recorded")


def _sender(turns: Sequence[RecordedTurn]) -> Mapping[str, Any]:
    for recorded in reversed(turns):
        if recorded.messages:
            sender = recorded.messages[-1].content.get("sender")
            if isinstance(sender, Mapping):
                return sender
    return {}


# -- asking again -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayedTurn:
    number: int
    at: datetime
    status: Status
    customer: str
    then: tuple[str, ...]
    now: tuple[str, ...] = ()
    #: Why the turn was not asked again (``status == "skipped"``).
    reason: str | None = None
    #: From the engine's ``AiRecord`` now, when it left one.
    engine: str | None = None
    model: str | None = None
    specialist: str | None = None
    fallback_reason: str | None = None
    tokens: int | None = None
    #: Orders the engine placed now that the replay simulated instead.
    simulated_orders: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "turn": self.number,
            "at": self.at.isoformat(),
            "status": self.status,
            "customer": self.customer,
            "then": list(self.then),
            "now": list(self.now) if self.status != "skipped" else None,
            "reason": self.reason,
            "engine": self.engine,
            "model": self.model,
            "specialist": self.specialist,
            "fallback_reason": self.fallback_reason,
            "tokens": self.tokens,
            "simulated_orders": self.simulated_orders,
        }


def shown_text(content: OutboundContent) -> str:
    """What the customer reads of a message: the same rule for the answer then and now."""
    if isinstance(content, TextContent | ButtonsContent | ListContent):
        return content.body
    if isinstance(content, MediaContent):
        return content.caption or content.link or ""
    assert isinstance(content, TemplateContent)
    return f"[template {content.name}]"


def _stored_text(row: Message) -> str:
    try:
        return shown_text(from_json(row.content))
    except (TypeError, ValueError, KeyError):
        return row.text or ""


def normalised(texts: Sequence[str]) -> str:
    return " ".join(" ".join(texts).split())


async def replay(container: Container, conversation_id: str, *, tenant: str) -> list[ReplayedTurn]:
    """Ask the container's current engine every customer turn of the conversation again."""
    recorded = await load(container.sessions, tenant, conversation_id)
    registry = ReplayRegistry(container.erp_registry, container.settings)
    engine = replay_engine(container, registry)
    erp = await _read_only(registry, recorded.tenant_id)
    log.info("replay started", turns=len(recorded.turns), engine=engine.name)
    state = SessionMemory()
    session_id: str | None = None
    replayed: list[ReplayedTurn] = []
    for number, recorded_turn in enumerate(recorded.turns, 1):
        customer = "\n".join(m.text for m in recorded_turn.messages if m.text)
        then = tuple(_stored_text(row) for row in recorded_turn.answer)
        if recorded_turn.skipped is not None:
            replayed.append(
                ReplayedTurn(
                    number,
                    recorded_turn.at,
                    "skipped",
                    customer,
                    then,
                    reason=recorded_turn.skipped,
                )
            )
            continue
        if recorded_turn.session_id != session_id:
            # A new session starts with an empty memory, even if its first turn was skipped.
            state, session_id = SessionMemory(), recorded_turn.session_id
        before = erp.simulated_orders if erp is not None else 0
        actions = await engine.reply(turn_of(recorded, recorded_turn, state))
        now = tuple(shown_text(a.content) for a in actions if isinstance(a, Say))
        for action in actions:
            if isinstance(action, Remember):
                state = action.state
        record = next((a for a in actions if isinstance(a, AiRecord)), None)
        same = normalised(then) == normalised(now)
        replayed.append(
            ReplayedTurn(
                number,
                recorded_turn.at,
                "same" if same else "different",
                customer,
                then,
                now,
                engine=record.engine if record else engine.name,
                model=record.model if record else None,
                specialist=record.specialist if record else None,
                fallback_reason=record.fallback_reason if record else None,
                tokens=record.tokens_in + record.tokens_out if record else None,
                simulated_orders=(erp.simulated_orders if erp is not None else 0) - before,
            )
        )
    log.info(
        "replay done",
        turns=len(replayed),
        different=sum(t.status == "different" for t in replayed),
    )
    return replayed


async def _read_only(registry: ReplayRegistry, tenant_id: str) -> ReadOnlyErp | None:
    # A tenant without an ERP can still be replayed: its engine answers without one.
    try:
        return await registry.read_only(tenant_id)
    except NotFound:
        return None


def turn_of(
    recorded: Recorded, turn: RecordedTurn, state: SessionMemory | Mapping[str, Any]
) -> Turn:
    """The turn as the turn processor built it then, at the time it was answered."""
    return build_turn(
        tenant_id=recorded.tenant_id,
        conversation_id=recorded.conversation.id,
        session_id=turn.session_id,
        channel_kind=recorded.channel_kind,
        contact=recorded.contact,
        sender=recorded.sender,
        messages=turn_messages(turn.messages),
        state=state,
        new_session=turn.new_session,
        now=turn.at,
    )


# -- output -------------------------------------------------------------------------------------


def json_lines(turns: Sequence[ReplayedTurn]) -> Iterator[str]:
    for replayed in turns:
        yield json.dumps(replayed.as_json(), ensure_ascii=False)


def text_lines(turns: Sequence[ReplayedTurn]) -> Iterator[str]:
    for replayed in turns:
        status = f"skipped ({replayed.reason})" if replayed.status == "skipped" else replayed.status
        at = f"{replayed.at:%Y-%m-%d %H:%M:%S %Z}"
        yield f"turn {replayed.number}  {at}  {status}{_how(replayed)}"
        yield from _block("customer", [replayed.customer] if replayed.customer else [])
        yield from _block("then", list(replayed.then))
        if replayed.status != "skipped":
            yield from _block("now", list(replayed.now))
        yield ""
    asked = [t for t in turns if t.status != "skipped"]
    different = sum(t.status == "different" for t in asked)
    yield (
        f"{len(asked)} turns replayed: {len(asked) - different} same, {different} different; "
        f"{len(turns) - len(asked)} skipped"
    )


def _how(turn: ReplayedTurn) -> str:
    if turn.engine is None:
        return ""
    parts = [turn.engine]
    if turn.engine != "offline" or turn.fallback_reason:
        parts += [f"model {turn.model}"] if turn.model else []
        parts += [f"specialist {turn.specialist}"] if turn.specialist else []
        parts += [f"fallback: {turn.fallback_reason}"] if turn.fallback_reason else []
        parts += [f"{turn.tokens} tokens"] if turn.tokens else []
    if turn.simulated_orders:
        parts.append(f"{turn.simulated_orders} order(s) simulated, not placed")
    return "  (" + ", ".join(parts) + ")"


def _block(label: str, texts: Sequence[str]) -> Iterator[str]:
    prefix = f"  {label + ':':<9} "
    lines = [line for text in texts for line in (text.splitlines() or [""])] or ["(nothing)"]
    for index, line in enumerate(lines):
        yield (prefix if index == 0 else " " * len(prefix)) + line
