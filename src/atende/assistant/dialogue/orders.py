"""Reading a new order as customers write it: product names or codes, quantities in words or
digits, several items in one message ("quero 2 camisetas e 1 caneca"), and the short answers to
"qual deles?" and "quantas?". Pure functions over text; the engine keeps the slots and calls the
tools.

The order's slots are ``SessionMemory.order`` (``assistant/memory.py``), reset all at once by
whatever ends the flow (done, "cancelar", "não" at the summary, "voltar", another request):
``pending`` (lines still to resolve, as :class:`RequestedLine`), ``line`` (the one waiting for
"qual deles?" or "quantas?"), ``items`` (resolved to a product), ``summary_id`` and ``summary``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from unidecode import unidecode

from atende.assistant.dialogue.choice import Option
from atende.assistant.nlu.entities import extract

#: The questions of the order flow, as ``awaiting`` values.
ORDER_AWAITING = frozenset({"order_items", "order_choice", "order_quantity", "order_confirm"})
#: The largest quantity one line takes (the tool's own bound).
MAX_QUANTITY = 1000

# Where one item of a list ends: "2 camisetas, 1 caneca", "2 camisetas e 1 caneca", one a line.
# "e também" / "e tb" as one break: split at "e" alone, "também 3 café" lost its count.
_ITEM_BREAK = re.compile(
    r"\s*(?:[,;+\n!?]|\.\s|\s(?:e\s+tamb[eé]m|e\s+tbm?|e|mais|tamb[eé]m|and)\s)\s*",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")
# "duas canecas, a térmica": one word after a comma and an article narrows the product named
# before it, it is not another item.
_NARROWED = re.compile(
    r",\s*(?:a|o|as|os|da|do)\s+([^\W\d_]+)\s*(?=$|[,.;!?\n]|e\s)", re.IGNORECASE
)
# Words that say "I want" or count, not which product (folded: lowercase, no accents).
_NOT_PRODUCT = frozenset(
    """
    quero queria qro kero gostaria preciso precisava pedir peco pedido fazer faz fechar
    comprar compro compra levar levo encomendar encomenda manda mande mandar envia envie enviar
    separa separe separar reserva reserve reservar coloca coloque adiciona adicione bota bote
    na verdade melhor mudei ideia corrigindo alias nao sim isso ok td tudo bem blz beleza
    me eu pra para pro por favor pf pfv porfavor ai oi ola bom boa dia tarde noite tem voces vcs
    vc voce ainda mais tambem so apenas entao vou meu minha cpf cnpj documento doc e eh sou
    um uma uns umas o a os as de do da dos das no na com
    unidade unidades un und unid uni pc pcs peca pecas pacote pacotes pct kit kits cx cxs caixa
    caixas par pares item itens x
    """.split()
)
_ARTICLE_ONE = frozenset({"um", "uma"})
# A count that follows what it counts: "x2", "2x", "2 unidades", "2 un".
_COUNT_AFTER = re.compile(
    r"(?:x\s?\d{1,4}|\d{1,4}\s?(?:x|un|und|unid|unidades?|pcs?|pecas?|pacotes?|cx|caixas?))\b",
    re.IGNORECASE,
)
_BARE_QUANTITY = re.compile(
    r"\W*(?:so|apenas|quero|manda|sao|serao)?\s*(\d{1,4})\s*"
    r"(?:x|un|und|unid|unidades?|pacotes?|caixas?|pecas?|itens)?\W*"
)


@dataclass(frozen=True, slots=True)
class RequestedLine:
    """One item as the customer asked for it, before it is matched to a product."""

    sku: str | None
    query: str | None
    quantity: int | None


def fold(text: str) -> str:
    return unidecode(text).lower()


def product_words(text: str) -> str | None:
    """The words of ``text`` that may name a product ("3 pacotes do café moído" → "cafe
    moido"), or None when there are none."""
    words = [word for word in _WORD.findall(fold(text)) if word not in _NOT_PRODUCT]
    if not any(char.isalpha() for word in words for char in word):
        return None  # a number alone names no product ("3" answers "quantas?")
    return " ".join(words)


def requested_lines(text: str) -> list[RequestedLine]:
    """The items asked for in ``text``, in order; empty when it names no product nor quantity.

    A quantity alone ("quero 2") is a line without a product; a product alone ("café moído")
    one without a quantity; a quantity after its product ("café moído, 3 pacotes") completes it.
    """
    lines: list[RequestedLine] = []
    text = _NARROWED.sub(r" \1 ", text)
    for chunk in (part for piece in _ITEM_BREAK.split(text) for part in _split_codes(piece)):
        line = _line(chunk)
        if line is None:
            continue
        previous = lines[-1] if lines else None
        if (
            previous is not None
            and line.sku is None
            and line.query is None
            and previous.quantity is None
        ):
            lines[-1] = RequestedLine(previous.sku, previous.query, line.quantity)
        else:
            lines.append(line)
    return lines


def _split_codes(chunk: str) -> list[str]:
    """``chunk`` cut after each product code but the last: "2 CAM-001 3 CAM-002" and
    "CAM-001 CAM-002" are two items even without a comma or "e" between them."""
    entities = extract(chunk).entities
    ends: list[int] = []
    for sku, following in zip(entities, [*entities[1:], None], strict=False):
        if sku.type != "sku":
            continue
        # A count written after the code ("CAM-001 x2", "CAM-001 2 unidades") stays with it.
        count = None
        if (
            following is not None
            and following.type == "quantity"
            and not chunk[sku.end : following.start].strip()
        ):
            count = _COUNT_AFTER.match(chunk, following.start)
        ends.append(count.end() if count else sku.end)
    ends = ends[:-1]
    starts = [0, *ends]
    return [chunk[start:end] for start, end in zip(starts, [*ends, len(chunk)], strict=True)]


def _line(chunk: str) -> RequestedLine | None:
    entities = extract(chunk).entities
    sku = next((e for e in entities if e.type == "sku"), None)
    counted = next((e for e in entities if e.type == "quantity"), None)
    rest = chunk
    # A document, an e-mail or an order number in the same sentence names no product.
    for entity in entities:
        if entity.type in {"sku", "quantity"} and entity not in (sku, counted):
            continue
        if entity is not None:
            rest = rest[: entity.start] + " " * (entity.end - entity.start) + rest[entity.end :]
    quantity = int(counted.value) if counted is not None else None
    query = product_words(rest)
    if sku is None and query is None and quantity is None:
        quantity = read_quantity(chunk)
    if quantity is None:
        # "quero uma caneca", "um CAF-002": "um"/"uma" are articles for the entity rules, but
        # right before the product of an order they are its quantity.
        before = fold(rest[: sku.start]) if sku is not None else fold(rest)
        words = _WORD.findall(before)
        first = next((i for i, w in enumerate(words) if w not in _NOT_PRODUCT), len(words))
        if sku is None and first == len(words):
            first = -1
        if (first > 0 or (sku is not None and words)) and words[first - 1] in _ARTICLE_ONE:
            quantity = 1
    if sku is not None:
        return RequestedLine(sku.value, None, _bounded(quantity))
    if query is None and quantity is None:
        return None
    return RequestedLine(None, query, _bounded(quantity))


def _bounded(quantity: int | None) -> int | None:
    return quantity if quantity is None or 0 < quantity <= MAX_QUANTITY else None


def read_quantity(text: str) -> int | None:
    """The answer to "quantas?": "3", "três", "3 unidades", "uma", "meia dúzia"."""
    folded = fold(text).strip()
    bare = _BARE_QUANTITY.fullmatch(folded)
    if bare:
        return _bounded(int(bare.group(1)))
    if re.fullmatch(r"\W*(?:so|apenas)?\s*(?:um|uma)\W*", folded):
        return 1
    # The entity rules count a number right after a verb of ordering ("quero três").
    for entity in extract(f"quero {text}").entities:
        if entity.type == "quantity":
            return _bounded(int(entity.value))
    return None


def product_option(option: Mapping[str, Any]) -> Option:
    """A product offered for "qual delas?" (``{"sku", "name", "price_cents"}``) as an item of
    the list :func:`~atende.assistant.dialogue.choice.choose` reads ("2", "a segunda", "a
    última", "o de 49,90", the code, "a preta")."""
    return Option(
        id=str(option["sku"]),
        amount_cents=option.get("price_cents"),
        name=str(option.get("name") or ""),
    )


def amended_quantities(
    items: Mapping[str, int], lines: list[RequestedLine]
) -> dict[str, int] | None:
    """The order's quantities (``{sku: quantity}``, every item already matched to a product)
    after a message that only restates or corrects them, sent while the CPF is awaited: "3" or
    "na verdade quero 5" for an order of one product, "CAF-002" again, "5 CAF-002". None when
    the message asks for anything else (a new product: the order flow reads it)."""
    if not items or not lines:
        return None
    amended = dict(items)
    if len(lines) == 1 and lines[0].sku is None and lines[0].query is None:
        if len(items) != 1 or lines[0].quantity is None:
            return None  # "quero 5" of which of the products?
        return {next(iter(items)): lines[0].quantity}
    for line in lines:
        if line.sku is None or line.sku.upper() not in {sku.upper() for sku in items}:
            return None
        if line.quantity is not None:
            amended[next(sku for sku in items if sku.upper() == line.sku.upper())] = line.quantity
    return amended
