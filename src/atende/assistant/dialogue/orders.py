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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from unidecode import unidecode

from atende.assistant.dialogue.choice import Option, choose
from atende.assistant.nlu.entities import extract

#: The questions of the order flow, as ``awaiting`` values.
ORDER_AWAITING = frozenset({"order_items", "order_choice", "order_quantity", "order_confirm"})
#: The largest quantity one line takes (the tool's own bound).
MAX_QUANTITY = 1000

# Where one item of a list ends: "2 camisetas, 1 caneca", "2 camisetas e 1 caneca", one a line.
_ITEM_BREAK = re.compile(r"\s*(?:[,;+\n!?]|\.\s|\s(?:e|mais|tamb[eé]m|and)\s)\s*", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
# Words that say "I want" or count, not which product (folded: lowercase, no accents).
_NOT_PRODUCT = frozenset(
    """
    quero queria qro kero gostaria preciso precisava pedir peco pedido fazer faz fechar
    comprar compro compra levar levo encomendar encomenda manda mande mandar envia envie enviar
    separa separe separar reserva reserve reservar coloca coloque adiciona adicione bota bote
    me eu pra para pro por favor pf pfv porfavor ai oi ola bom boa dia tarde noite tem voces vcs
    vc voce ainda mais tambem so apenas entao vou meu minha cpf cnpj documento doc e eh sou
    um uma uns umas o a os as de do da dos das no na com
    unidade unidades un und unid uni pc pcs peca pecas pacote pacotes pct kit kits cx cxs caixa
    caixas par pares item itens x
    """.split()
)
_ARTICLE_ONE = frozenset({"um", "uma"})
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
    for chunk in _ITEM_BREAK.split(text):
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


def chosen_option(
    text: str, replies: Iterable[str | None], options: Sequence[Mapping[str, Any]]
) -> str | None:
    """The SKU the customer picked among ``options`` (``{"sku", "name", "price_cents"}``, as
    numbered): a list reply's id (``replies``), or what :func:`choose` reads, as for every list
    the assistant shows ("2", "a segunda", "a última", "o de 49,90", the code, "a preta")."""
    skus = [str(option["sku"]) for option in options]
    for reply in replies:
        if reply in skus:
            return reply
    offered = [
        Option(
            id=str(option["sku"]),
            amount_cents=option.get("price_cents"),
            name=str(option.get("name") or ""),
        )
        for option in options
    ]
    chosen = choose(offered, text).chosen
    return chosen.id if chosen is not None else None
