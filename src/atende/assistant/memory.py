"""The assistant's session memory: one typed, versioned model instead of a dict read by string key.

Both engines (the offline dialogue and the LLM agent) read and write the same memory, since
either may answer a turn (the agent falls back to the offline engine); the business tools keep
the verification proof and the order summary in it. It is stored as JSON in the conversation's
``state`` column (and, for a step kept during an outage, in the deferred request's payload), and
a session expiry wipes it.

Parts, kept apart on purpose so that no dialogue slot can be mistaken for a proof:

``identity``
    Who the session is verified as (:class:`Proof`, written only by the tools) and the security
    question under way (:class:`PendingChallenge`).
``dialogue``
    The offline engine's slots: the goal, the question ``awaiting`` an answer, the list of
    boletos offered, the order number asked about, misunderstandings in a row, and the requests
    of a burst kept for after the open question.
``order``
    The order being built (see ``dialogue/orders.py``): lines still to resolve, the line waiting
    for "qual deles?" or "quantas?", the lines resolved, and the summary shown.
``agent``
    The LLM agent's specialist, its short history and summary, and the PII placeholders of the
    session (``agent/privacy.py``).

Loading (:func:`load_memory`) accepts every shape written before: the flat dict of release 1
(no ``version``; "verified", "verification_pending", "order_line"… at the top), boleto options as
bare ids (the first release) or dicts, product options without a price. Deliberate choices:

* keys nobody reads are dropped (their names, never their values, are logged);
* a value that does not fit its field (a hand-edited row, a bug) drops that field, not the whole
  memory, and never the conversation: the customer is asked again, which is safe;
* a missing ``attempts`` of a pending challenge is 0 (locked), as release 1 read it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from atende.kit.logging import get_logger

log = get_logger(__name__)

#: The shape :meth:`SessionMemory.dump` writes. Release 1 wrote a flat dict without a version.
VERSION = 2

#: The question the offline engine asked last and expects an answer to.
Awaiting = Literal[
    "document",
    "challenge",
    "titulo",
    "order_items",
    "order_choice",
    "order_quantity",
    "order_confirm",
    # A person was offered ("Quer falar com um atendente?"): a yes hands the conversation over.
    "human_offer",
]


class _Part(BaseModel):
    # Unknown keys are dropped on load; assignments are checked, so a wrong type fails where it is
    # written, not turns later where it is read.
    model_config = ConfigDict(extra="ignore", validate_assignment=True)


# -- identity ------------------------------------------------------------------------------------


class Proof(_Part):
    """The customer this session is verified as (normalised CPF/CNPJ digits)."""

    document: str
    #: How: ``phone`` (the ERP's phone for the customer) or the challenge passed.
    via: str = ""


class PendingChallenge(_Part):
    """The security question asked for ``document``; asked again with the same count."""

    document: str
    #: Wrong answers left; 0 is locked for the session.
    attempts: int = 0


class Identity(_Part):
    verified: Proof | None = None
    pending: PendingChallenge | None = None


# -- the offline engine's dialogue ---------------------------------------------------------------


class ListOption(_Part):
    """A boleto of the list offered, with what a customer may call it by
    (``dialogue.choice.Option``, as memory)."""

    id: str
    amount_cents: int | None = None
    day: date | None = None
    overdue: bool | None = None
    name: str = ""

    @model_validator(mode="before")
    @classmethod
    def _bare_id(cls, raw: Any) -> Any:
        # The first release kept the offered ids only.
        return raw if isinstance(raw, Mapping | ListOption) else {"id": str(raw)}


class Dialogue(_Part):
    #: The intent to serve once the customer is identified.
    goal: str | None = None
    awaiting: Awaiting | None = None
    #: The boletos listed, in the order shown (numbered from 1).
    options: list[ListOption] = Field(default_factory=list)
    #: The order number the customer asked about.
    order_id: str | None = None
    #: Turns in a row the engine did not understand (a person is offered at 2).
    misunderstood: int = 0
    #: Requests of a burst kept for after the question left open (``dialogue/burst.py``).
    kept_requests: list[str] = Field(default_factory=list)


# -- the order being built -----------------------------------------------------------------------


class AskedLine(_Part):
    """One item as the customer asked for it (``dialogue.orders.RequestedLine``, as memory)."""

    sku: str | None = None
    query: str | None = None
    quantity: int | None = None

    @field_validator("sku", "query", "quantity", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # Release 1 read "" and 0 as "not said".
        return value or None


class ProductOption(_Part):
    sku: str
    name: str = ""
    #: Absent in memory written before prices were shown with the choice.
    price_cents: int | None = None


class OpenLine(_Part):
    """The line waiting for an answer: "qual deles?" (``query``, ``quantity``, the ``options``
    in the order shown) or "quantas?" (``sku``, ``name``)."""

    query: str | None = None
    quantity: int | None = None
    options: list[ProductOption] = Field(default_factory=list)
    sku: str | None = None
    name: str | None = None


class OrderItem(_Part):
    sku: str
    quantity: int


class SummaryRecord(_Part):
    """What ``prepare_order`` showed: ``confirm_order`` places it only in a later turn."""

    summary_id: str
    items: list[OrderItem] = Field(default_factory=list)
    turn: int = 0


class OrderSlots(_Part):
    """Every slot of the order flow: whatever ends it resets them all at once."""

    pending: list[AskedLine] = Field(default_factory=list)
    line: OpenLine | None = None
    items: list[OrderItem] = Field(default_factory=list)
    #: The summary shown, waiting for "sim" (the engine's copy of ``summary.summary_id``).
    summary_id: str | None = None
    #: The tool's own record of the summary.
    summary: SummaryRecord | None = None


# -- the LLM agent -------------------------------------------------------------------------------


class ChatMessage(_Part):
    role: Literal["user", "assistant"]
    #: Redacted when the tenant redacts PII.
    content: str


class AgentMemory(_Part):
    specialist: str | None = None
    #: The last exchanges, as the model saw them.
    history: list[ChatMessage] = Field(default_factory=list)
    #: Short facts of the session (tool outcomes), redacted.
    summary: list[str] = Field(default_factory=list)
    #: Placeholder → value of the session's PII (``Redactor.state``); None when not redacting.
    pii: dict[str, str] | None = None


# -- the whole -----------------------------------------------------------------------------------


class SessionMemory(_Part):
    version: int = VERSION
    #: Customer turns answered in this session.
    turn: int = 0
    identity: Identity = Field(default_factory=Identity)
    dialogue: Dialogue = Field(default_factory=Dialogue)
    order: OrderSlots = Field(default_factory=OrderSlots)
    agent: AgentMemory = Field(default_factory=AgentMemory)

    @property
    def verified_document(self) -> str | None:
        proof = self.identity.verified
        return proof.document if proof is not None else None

    def clone(self) -> SessionMemory:
        """A copy to change (an engine's for its turn). Validating the dumped fields is about
        five times faster than ``model_copy(deep=True)``, which deep-copies through ``copy``."""
        return SessionMemory.model_validate(self.model_dump())

    def dump(self) -> dict[str, Any]:
        """JSON-safe, for the conversation's ``state`` column."""
        return self.model_dump(mode="json")

    def resumable(self) -> SessionMemory:
        """What a step kept during an outage needs to run again, possibly after the session
        ended: the identity, the order and the goal (kept in the deferred request)."""
        return SessionMemory(
            identity=self.identity.model_copy(deep=True),
            order=self.order.model_copy(deep=True),
            dialogue=Dialogue(goal=self.dialogue.goal, order_id=self.dialogue.order_id),
        )

    def fill_missing(self, kept: SessionMemory) -> None:
        """Take from ``kept`` (:meth:`resumable`) what this memory lacks: what the session
        learnt since the step was kept wins."""
        identity, order = self.identity, self.order
        identity.verified = identity.verified or kept.identity.verified
        identity.pending = identity.pending or kept.identity.pending
        self.dialogue.goal = self.dialogue.goal or kept.dialogue.goal
        self.dialogue.order_id = self.dialogue.order_id or kept.dialogue.order_id
        order.pending = order.pending or kept.order.pending
        order.line = order.line or kept.order.line
        order.items = order.items or kept.order.items
        order.summary_id = order.summary_id or kept.order.summary_id
        order.summary = order.summary or kept.order.summary


# -- loading -------------------------------------------------------------------------------------

#: Release 1's flat keys: where each one lives now.
_V1_KEYS: dict[str, tuple[str, ...]] = {
    "turn": ("turn",),
    "goal": ("dialogue", "goal"),
    "awaiting": ("dialogue", "awaiting"),
    "options": ("dialogue", "options"),
    "order_id": ("dialogue", "order_id"),
    "misunderstood": ("dialogue", "misunderstood"),
    "kept_requests": ("dialogue", "kept_requests"),
    "verified": ("identity", "verified"),
    "verification_pending": ("identity", "pending"),
    "order_pending": ("order", "pending"),
    "order_line": ("order", "line"),
    "order_items": ("order", "items"),
    "summary_id": ("order", "summary_id"),
    "order_summary": ("order", "summary"),
    "specialist": ("agent", "specialist"),
    "llm_history": ("agent", "history"),
    "llm_summary": ("agent", "summary"),
    "pii": ("agent", "pii"),
}
#: Release 1 values that its readers took as absent (a proof without a document proved nothing).
_V1_NEEDS = {"verified": "document", "verification_pending": "document"}
#: Passes of dropping what does not fit before giving up on the memory (each pass drops at least
#: one field, and a memory has a few dozen).
_MAX_REPAIRS = 40


def load_memory(raw: object) -> SessionMemory:
    """The session memory stored as ``raw`` (any shape ever written; None or ``{}`` is a new
    session's). Never raises: what cannot be read is dropped, as described above."""
    if isinstance(raw, SessionMemory):
        return raw.clone()
    if not isinstance(raw, Mapping) or not raw:
        if raw:
            log.warning("session memory is not a mapping; starting afresh", type=type(raw).__name__)
        return SessionMemory()
    data: dict[str, Any] = copy.deepcopy(dict(raw))
    version = data.get("version")
    if version is None:
        data = _from_v1(data)
    elif version != VERSION:
        # A newer release's row read by this one (a rollback): what this one knows is kept.
        log.warning("session memory of another version", version=str(version)[:10])
        data["version"] = VERSION
    return _validated(data)


def _from_v1(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {"version": VERSION}
    unknown = sorted(key for key in flat if key not in _V1_KEYS)
    if unknown:
        log.info("session memory: unknown keys dropped", keys=[key[:40] for key in unknown[:20]])
    for key, value in flat.items():
        where = _V1_KEYS.get(key)
        if where is None or value is None:
            continue
        needed = _V1_NEEDS.get(key)
        if needed is not None and not (isinstance(value, Mapping) and needed in value):
            continue
        if key == "order_line" and not isinstance(value, Mapping):
            continue  # release 1 read anything else as "no line open"
        if len(where) == 1:
            nested[where[0]] = value
        else:
            nested.setdefault(where[0], {})[where[1]] = value
    return nested


def _validated(data: dict[str, Any]) -> SessionMemory:
    for _ in range(_MAX_REPAIRS):
        try:
            return SessionMemory.model_validate(data)
        except ValidationError as error:
            wrong = {tuple(str(part) for part in e["loc"][:2]) for e in error.errors()}
            # Field names only: the values may be a customer's data.
            log.warning("session memory: fields dropped", fields=sorted(".".join(w) for w in wrong))
            for where in wrong:
                _drop(data, where)
    return SessionMemory()


def _drop(data: dict[str, Any], where: tuple[str, ...]) -> None:
    section = data.get(where[0])
    if len(where) == 1 or not isinstance(section, dict):
        data.pop(where[0], None)
    else:
        section.pop(where[1], None)
