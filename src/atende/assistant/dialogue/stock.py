"""The dialogue's stock questions: every product a request names (codes, or the words of a
line without one), answered line by line in one reply.
"""

from __future__ import annotations

import re

from unidecode import unidecode

from atende.assistant.dialogue.conversation import GREETS, Conversation
from atende.assistant.nlu import Understanding
from atende.assistant.nlu.entities import extract
from atende.assistant.tools.core import ToolError
from atende.assistant.tools.models import ProductView, StockQuery
from atende.brazil.money import format_brl

_PRODUCT_FILLER = re.compile(
    r"\b(tem|voces|vcs|vc|voce|estoque|disponivel|disponiveis|ainda|quanto|custa|preco|valor|"
    r"o|a|os|as|de|do|da|um|uma|no|na|ai|pra|para|gostaria|saber|se|queria|quero|ver|e|mais)\b"
)


class StockFlow(Conversation):
    """Stock and price of one product or several, in the order asked."""

    async def _stock(self, nlu: Understanding) -> None:
        asks = _stock_asks(self.turn.text)
        if not asks:
            self.say("Qual produto você procura? Pode mandar o nome ou o código.")
        elif len(asks) == 1:
            await self._stock_lookup(*asks[0])
        else:
            await self._stock_many(asks)

    async def _stock_many(self, asks: list[tuple[str | None, str | None]]) -> None:
        """Several products in one request ("tem CAM-001, CAM-002 e CAF-001?", or one a line):
        one line each, in the order asked, in one reply (the outbox splits it at WhatsApp's
        4096 characters, between lines)."""
        tools = await self.tools()
        self.tools_called.append("stock")
        lines: list[str] = []
        for sku, query in asks:
            try:
                products = (await tools.stock(StockQuery(sku=sku, query=query))).products
            except ToolError as error:
                if error.code != "not_found":
                    raise
                products = []
            if not products:
                lines.append(f"{sku or query}: não encontrei no catálogo.")
            lines += [_stock_line(product) for product in products]
        self.say("\n".join(lines))

    async def _stock_lookup(self, sku: str | None, query: str | None) -> None:
        tools = await self.tools()
        self.step = {"do": "stock", "sku": sku, "query": query}
        self.tools_called.append("stock")
        products = (await tools.stock(StockQuery(sku=sku, query=query))).products
        if not products:
            self.say("Não encontrei esse produto no catálogo.")
            return
        self.say("\n".join(_stock_line(p) for p in products))


def _stock_line(product: ProductView) -> str:
    return f"*{product.name}* ({product.sku}): {format_brl(product.price_cents)} • " + (
        f"{product.stock} em estoque" if product.available else "sem estoque no momento"
    )


def _stock_asks(text: str) -> list[tuple[str | None, str | None]]:
    """The products a stock question asks about, in order: every code, or, on a line without
    one, the words that may name a product."""
    asks: list[tuple[str | None, str | None]] = []
    for line in text.splitlines():
        skus = [entity.value for entity in extract(line).entities if entity.type == "sku"]
        # A line of greeting or asking ("oi", "queria saber") names no product.
        query = None if skus else _product_words(GREETS.sub("", unidecode(line).lower()))
        asks += [(sku, None) for sku in skus] + ([(None, query)] if query else [])
    return list(dict.fromkeys(asks))


def _product_words(text: str) -> str | None:
    words = _PRODUCT_FILLER.sub(" ", re.sub(r"[^\w\s]", " ", unidecode(text).lower()))
    query = " ".join(words.split())
    return query or None
