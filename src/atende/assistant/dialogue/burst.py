"""A burst of messages read as the requests it carries.

Customers type in fragments ("oi" / "queria saber" / "do meu pedido"): the turn processor
merges a burst into one turn, which is right for those, and wrong for ten questions sent
together, which used to get one answer. Here each fragment (a message, or a line of one) is
classified on its own, and the turn is cut where a new request starts:

* a fragment is a *request* when the classifier is fairly sure it asks for something the
  assistant does (:data:`REQUEST_INTENTS`), or it names a product or an order;
* anything else (a greeting, "queria saber", a CPF, "sim") belongs with its neighbours: with the
  request after it, or the one before it when it comes last or answers something;
* consecutive stock questions, and consecutive items of an order, stay together: each is
  answered line by line in one reply (or one order).

A turn with one request is answered exactly as before, its text untouched.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from atende.assistant.nlu import Understanding
from atende.assistant.port import TurnMessage

#: What a fragment asks for when it is a request of its own.
REQUEST_INTENTS = frozenset(
    {
        "invoice_copy",
        "open_invoices",
        "order_status",
        "order_history",
        "delivery_tracking",
        "place_order",
        "stock_check",
        "business_info",
        "human_handoff",
        "complaint",
    }
)
#: Requests that several fragments in a row make together (answered line by line).
MERGING_INTENTS = frozenset({"stock_check", "place_order"})
#: Fragments that answer the bot's last question: they stay with what comes before them.
ANSWER_INTENTS = frozenset({"provide_document", "affirm", "deny"})
MIN_CONFIDENCE = 0.5
#: Fragments read one by one at most; a longer flood is read as one turn, as before.
MAX_FRAGMENTS = 300
_INTERACTIVE = frozenset({"list_reply", "button_reply", "audio", "voice"})


@dataclass(slots=True)
class Request:
    """One request of a turn: its fragments' text (joined with newlines) and messages."""

    intent: str
    lines: list[str] = field(default_factory=list)
    messages: list[TurnMessage] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


#: Where a second request starts inside one line: "quero a 2a via, ah e também saber do meu
#: pedido", "… além disso …", "… outra coisa: …". A clause that is no request of its own joins
#: its neighbour again, and a turn left with one request is answered with its text untouched.
_CLAUSE = re.compile(
    r"(?:\bah,?\s+)?\be\s+(?:tamb[eé]m|tb|tbm)\b|\bal[eé]m\s+disso\b|\boutra\s+coisa\b",
    re.IGNORECASE,
)


def clauses(line: str) -> list[str]:
    """A line cut where a cue says a second request starts."""
    cuts = [match.start() for match in _CLAUSE.finditer(line) if match.start() > 0]
    bounds = [0, *cuts, len(line)]
    parts = (line[start:end].strip(" ,;") for start, end in itertools.pairwise(bounds))
    return [part for part in parts if part]


def fragments(messages: Sequence[TurnMessage]) -> list[tuple[str, TurnMessage]]:
    """Each clause of each non-empty line of each message, with the message it came from."""
    found: list[tuple[str, TurnMessage]] = []
    for message in messages:
        for line in (message.text or "").splitlines():
            found += [(clause, message) for clause in clauses(line.strip())]
    return found


def split_requests(
    messages: Sequence[TurnMessage],
    understand: Callable[[str], Understanding],
    *,
    answering: bool,
) -> list[Request]:
    """The requests of a turn, in the order asked; one request when it carries only one.

    ``answering``: the bot asked something last turn, so the first fragment answers it and is
    never merged into the request after it.
    """
    if any(message.type in _INTERACTIVE for message in messages):
        return []
    parts = fragments(messages)
    if len(parts) < 2 or len(parts) > MAX_FRAGMENTS:
        return []
    requests: list[Request] = []
    waiting: list[tuple[str, TurnMessage]] = []  # fragments before the next request
    for index, (text, message) in enumerate(parts):
        nlu = understand(text)
        is_request = nlu.intent in REQUEST_INTENTS and (
            nlu.confidence >= MIN_CONFIDENCE
            or any(entity.type in {"sku", "order_id"} for entity in nlu.entities)
        )
        if index == 0 and answering:
            requests.append(Request(nlu.intent if is_request else "answer", [text], [message]))
            continue
        if not is_request:
            if nlu.intent in ANSWER_INTENTS and requests and not waiting:
                _add(requests[-1], text, message)
            else:
                waiting.append((text, message))
            continue
        last = requests[-1] if requests else None
        if last is not None and not waiting and last.intent == nlu.intent in MERGING_INTENTS:
            _add(last, text, message)
            continue
        request = Request(nlu.intent)
        for before, origin in waiting:
            _add(request, before, origin)
        waiting = []
        _add(request, text, message)
        requests.append(request)
    if waiting:
        if requests:
            for text, message in waiting:
                _add(requests[-1], text, message)
        else:
            return []
    return requests


def _add(request: Request, text: str, message: TurnMessage) -> None:
    request.lines.append(text)
    if not request.messages or request.messages[-1] is not message:
        request.messages.append(message)
