"""A new order with the demo stand-in: which products and how many, read again from the
conversation at every request (the stand-in keeps no memory), then looked up, chosen and
summarised through the tools.

The order under way starts at the customer's message that asked to buy ("quero 2 camisetas e
uma caneca", "quero fazer um pedido") and ends at a summary confirmed or declined, or a cancel.
The stand-in's own questions in between say what each later message answers: "Qual produto"
(a product, maybe with its quantity), "Quantas unidades" (the quantity), "Qual delas" (a pick
among numbered products, read with the offline engine's chooser). Then, in order: a product
known only by name is searched (one found: that one; several: "Qual delas?"), a product without
a quantity is asked about, the CPF is asked if the customer is not identified, and the summary
is prepared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from atende.assistant.dialogue.choice import choose
from atende.assistant.dialogue.replies import DEFAULTS
from atende.brazil.money import format_brl
from atende.devtools.fake_llm.reading import (
    DOCUMENT,
    PERSONAL,
    QUANTITY,
    SKU_ITEM,
    Reading,
    folded,
    option_of,
    product_words,
    quantity_of,
    topic_of,
)
from atende.devtools.fake_llm.server import Step, ToolCall

ASK_PRODUCT = "Qual produto (código ou nome) e quantas unidades você quer?"
#: What the stand-in asks during an order (its previous answer says the order goes on).
_ORDER_QUESTIONS = ("qual produto", "quantas unidades", "qual delas")
#: Answers after which the order is over.
_OVER = re.compile(r"\b(?:cancelei|cancelado|registrado)\b")
_OPTION = re.compile(r"^\s*\d{1,2}[.)]\s+(.*?)\s*\(([^()\s]+)\)\s*$", re.MULTILINE)
_PARTS = re.compile(r",|;|\.(?!\d)|\s\+\s|\be\b")
_NUMBER = re.compile(r"\b" + QUANTITY + r"\b")


@dataclass
class Item:
    """A product the customer asked for: its SKU once known, its quantity once said."""

    quantity: int | None
    sku: str | None = None
    #: The words to search by, or the product's name once chosen.
    name: str = ""


def order_messages(reading: Reading) -> list[tuple[str, str]] | None:
    """The conversation from the message that started the order under way to this one, or
    None when no order is under way (another request of the customer's came after it)."""
    messages = [*reading.history, ("user", reading.text)]
    for index in range(len(messages) - 1, -1, -1):
        role, text = messages[index]
        plain = folded(DOCUMENT.sub(" ", text))
        if role == "assistant":
            if _OVER.search(plain):
                return None
            continue
        topic = topic_of(plain)
        if topic == "buy":
            return messages[index:]
        if topic in PERSONAL:
            return None
    return None


def order_active(reading: Reading) -> bool:
    """Whether this message is about the order under way: it asks to buy, or it answers one of
    the order's questions (or the CPF or security question asked for it)."""
    if order_messages(reading) is None:
        return False
    if topic_of(folded(DOCUMENT.sub(" ", reading.text))) == "buy":
        return True
    identity = ("cpf ou cnpj", "para sua seguranca", "tentativa")
    return any(question in reading.asked for question in (*_ORDER_QUESTIONS, *identity))


def items_of(text: str) -> list[Item]:
    """The products a message names: codes with their quantities ("2 CAM-001"), else names
    ("2 camisetas e uma caneca")."""
    plain = folded(DOCUMENT.sub(" ", text))
    coded = [
        Item(quantity_of(match["n"]) if match["n"] else None, sku=match["sku"].upper())
        for match in SKU_ITEM.finditer(plain)
    ]
    if coded:
        return coded
    items = []
    for part in _PARTS.split(plain):
        name = product_words(part)
        if name:
            number = _NUMBER.search(part)
            items.append(Item(quantity_of(number["n"]) if number else None, name=name))
    return items


def items_asked(messages: list[tuple[str, str]]) -> list[Item]:
    """The order's products, replaying the conversation: each customer message answers the
    stand-in's question before it."""
    items = items_of(messages[0][1])
    for index in range(1, len(messages)):
        role, text = messages[index]
        if role != "user" or messages[index - 1][0] != "assistant":
            continue
        question = messages[index - 1][1]
        asked = folded(question)
        if "qual produto" in asked:
            items += items_of(text)
        elif "qual delas" in asked:
            options = [option_of(m[1], m[2]) for m in _OPTION.finditer(question)]
            chosen = choose(options, text).chosen
            pending = next((item for item in items if item.sku is None), None)
            if chosen is not None and pending is not None:
                pending.sku, pending.name = chosen.id, chosen.name
        elif "quantas unidades" in asked:
            number = _NUMBER.search(folded(text))
            pending = next((item for item in items if item.quantity is None), None)
            if number is not None and pending is not None:
                pending.quantity = quantity_of(number["n"])
    return items


def order_step(reading: Reading) -> Step | None:
    """The order's next step in this turn: a lookup, a question, or the summary."""
    messages = order_messages(reading)
    if messages is None:
        return None
    items = items_asked(messages)
    if not items:
        return Step(text=ASK_PRODUCT)
    looked_up = {
        _lookup_key(result.arguments): result.value
        for result in reading.results
        if result.name == "stock_and_price"
    }
    for item in items:
        if item.sku is None:
            found = looked_up.get(("query", item.name))
            if found is None:
                return _call(reading, "stock_and_price", query=item.name[:100])
            if "error" in found:
                return Step(text=str(found.get("message") or ASK_PRODUCT))
            products = found.get("products") or []
            if not products:
                return Step(text=f"Não encontrei *{item.name}* no catálogo. {ASK_PRODUCT}")
            if len(products) > 1:
                return Step(text=_which(item, products))
            item.sku, item.name = str(products[0]["sku"]), str(products[0]["name"])
        if item.quantity is None:
            if not item.name or item.name == item.sku:
                found = looked_up.get(("sku", item.sku))
                if found is None:
                    return _call(reading, "stock_and_price", sku=item.sku)
                products = found.get("products") or []
                if "error" in found or not products:
                    return Step(text=str(found.get("message") or ASK_PRODUCT))
                item.name = str(products[0]["name"])
            return Step(text=f"Quantas unidades de *{item.name}* ({item.sku}) você quer?")
    if not reading.verified:
        return Step(text=DEFAULTS["ask_document"]) if reading.offers("identify_customer") else None
    lines = [{"sku": item.sku, "quantity": item.quantity} for item in items]
    return _call(reading, "prepare_order", items=lines)


def _lookup_key(arguments: dict[str, Any]) -> tuple[str, str]:
    if arguments.get("sku"):
        return ("sku", str(arguments["sku"]).upper())
    return ("query", str(arguments.get("query") or ""))


def _which(item: Item, products: list[dict[str, Any]]) -> str:
    lines = [
        f"{n}. *{p['name']}*: {format_brl(int(p['price_cents']))} ({p['sku']})"
        for n, p in enumerate(products, 1)
    ]
    return f"Para *{item.name}*, encontrei estas opções. Qual delas você quer?\n" + "\n".join(lines)


def _call(reading: Reading, name: str, **arguments: Any) -> Step | None:
    if not reading.offers(name) or reading.called(name, arguments):
        return None
    return Step(tool_calls=(ToolCall(name, arguments),))
