"""The dialogue's order flow (the text it reads is ``orders``): the slots kept in
``SessionMemory.order`` across turns, the catalogue searched through the tools, and the summary
confirmed in a later turn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from atende.assistant.dialogue.conversation import NEEDS_CUSTOMER, Conversation, entity
from atende.assistant.dialogue.orders import (
    ORDER_AWAITING,
    RequestedLine,
    chosen_option,
    read_quantity,
    requested_lines,
)
from atende.assistant.memory import AskedLine, OpenLine, OrderItem, OrderSlots, ProductOption
from atende.assistant.nlu import Understanding
from atende.assistant.tools.core import ToolError
from atende.assistant.tools.models import (
    ConfirmOrder,
    OrderLine,
    PrepareOrder,
    ProductView,
    StockQuery,
)
from atende.brazil.money import format_brl
from atende.channels.types import Button, ButtonsContent, ListContent, ListRow, ListSection

#: The order flow's questions before its summary ("qual produto?", "qual delas?", "quantas?").
ORDER_QUESTIONS = ORDER_AWAITING - {"order_confirm"}
ASK_PRODUCT = "Qual produto e quantas unidades você quer? Pode mandar o nome ou o código."
#: Requests that end an order under way when they come instead of an answer to its question.
OTHER_REQUESTS = frozenset({"business_info", "greeting", "thanks", "goodbye", "opt_out"})
_BARE_ORDER_NUMBER = re.compile(r"(?<![\w.,/$#-])\d{3,12}(?![\w%]|[.,/:-]\d)")


class OrderFlow(Conversation):
    """A new order: lines read from the customer's words, each matched to one product with
    a quantity (asking "qual delas?" or "quantas?"), then a summary confirmed in a later turn."""

    def _end_order(self) -> None:
        """The order flow is over (placed, refused, cancelled, replaced): none of its slots may
        reach the next request."""
        self.state.order = OrderSlots()
        if self.state.dialogue.awaiting in ORDER_AWAITING:
            self.state.dialogue.awaiting = None

    def _remember_order_items(self, nlu: Understanding) -> None:
        """What a request for the customer's data carries into its flow; a request for
        something else ends the flow under way (its slots go with it)."""
        order_id = entity(nlu, "order_id")
        if order_id is None and nlu.intent in {"order_status", "delivery_tracking"}:
            # "status do 5003": about an order, a bare number is its number.
            bare = _BARE_ORDER_NUMBER.findall(self.turn.text)
            order_id = bare[0] if len(bare) == 1 else None
        self.state.dialogue.order_id = order_id or None
        # While the order is being built, a product adds to it; once its summary is shown, a
        # new request for products starts another order (the customer restated it).
        building = self.state.dialogue.awaiting in ORDER_QUESTIONS
        if nlu.intent != "place_order" or not building:
            self._end_order()
        if nlu.intent == "place_order":
            self._add_order_lines(requested_lines(self.turn.text))

    def _add_order_lines(self, lines: list[RequestedLine]) -> None:
        pending = [_requested(line) for line in self.state.order.pending]
        if pending and lines:
            # "quero 2" and then "caneca térmica": one line.
            last, first = pending[-1], lines[0]
            if last.sku is None and last.query is None and first.quantity is None:
                pending[-1] = RequestedLine(first.sku, first.query, last.quantity)
                lines = lines[1:]
        pending += lines
        if pending:
            self.state.order.pending = [_asked(line) for line in pending]

    async def _order_answer(self, nlu: Understanding, awaiting: str) -> bool:
        """The customer's answer to a question of the order flow; False when the message is
        another request (which then replaces the order)."""
        other_request = (
            nlu.intent in NEEDS_CUSTOMER - {"place_order"}
            or nlu.intent in OTHER_REQUESTS
            # A CPF sent meanwhile identifies the customer; the question is asked again after.
            or entity(nlu, "cpf", "cnpj") is not None
        )
        if nlu.intent in {"affirm", "deny"} and not entity(nlu, "sku", "quantity"):
            lines = []  # "sim", "ok": no product in it
        else:
            lines = requested_lines(self.turn.text)
        named = [line for line in lines if line.sku or line.query]
        current = self.state.order.line or OpenLine()
        if awaiting == "order_choice":
            replies = [
                str(m.content.get("id"))
                for m in self.turn.messages
                if m.type in {"list_reply", "button_reply"}
            ]
            options = [option.model_dump() for option in current.options]
            sku = chosen_option(self.turn.text, replies, options)
            if sku is not None:
                quantity = current.quantity or read_quantity(self.turn.text)
                chosen = RequestedLine(sku, None, quantity)
                self.state.order.pending = [_asked(chosen), *self.state.order.pending]
                self.state.order.line = None
                await self._order_next()
                return True
        elif awaiting == "order_quantity":
            quantity = read_quantity(self.turn.text)
            if quantity is not None and not named:
                line = RequestedLine(str(current.sku), None, quantity)
                self.state.order.pending = [_asked(line), *self.state.order.pending]
                self.state.order.line = None
                await self._order_next()
                return True
        if other_request:
            # Checked after the answers: "a segunda" reads as "2ª via" to the classifier.
            return False
        if named or (awaiting == "order_items" and lines):
            # A product (a code alone included) while ordering is the next item, not a stock
            # question; it replaces a line still waiting for "qual?" or "quantas?".
            self.state.order.line = None
            self._add_order_lines(lines)
            await self._order_next()
            return True
        if awaiting == "order_choice":
            count = len(current.options)
            self.say(f"Não entendi qual. Responda com o número da opção (1 a {count}).")
            return True
        if awaiting == "order_quantity":
            self.say(f"Quantas unidades de *{current.name}*? Responda só com o número.")
            return True
        if nlu.intent == "deny":
            self._end_order()
            self.state.dialogue.goal = None
            self.say("Tudo bem. Posso ajudar com mais alguma coisa?")
            return True
        self.say(ASK_PRODUCT + " Se preferir desistir, responda *cancelar*.")
        return True

    async def _order_next(self) -> None:
        """Resolve what is left of the order; once every line is a product and a quantity, go
        on as for any goal: identify the customer, then summarise."""
        self.state.dialogue.goal = "place_order"
        if await self._resolve_order():
            await self._goal()

    async def _resolve_order(self) -> bool:
        """Match each pending line to one product with a quantity, asking "qual?" or
        "quantas?" when the customer's words leave it open. True when the order is complete."""
        if self._ask_open_line():
            return False
        order = self.state.order
        pending = [_requested(line) for line in order.pending]
        items = list(order.items)
        tools = await self.tools()
        while pending:
            line = pending[0]
            order.pending = [_asked(rest) for rest in pending[1:]]
            if line.sku is None and line.query is None:
                self.state.dialogue.awaiting = "order_items"
                self.say(f"Certo, {line.quantity}. E qual produto? Pode mandar o nome ou o código.")
                order.pending = [_asked(line) for line in pending]
                return False
            self.tools_called.append("order_products")
            try:
                found = (
                    await tools.order_products(StockQuery(sku=line.sku, query=line.query))
                ).products
            except ToolError as error:
                if error.code != "not_found":
                    raise
                found = []
            pending.pop(0)
            what = line.sku or line.query
            available = [product for product in found if product.available]
            if not found:
                self.say(f"Não encontrei *{what}* no catálogo.")
                continue
            if not available:
                self.say(f"*{found[0].name}* está sem estoque no momento.")
                continue
            if len(available) > 1:
                order.line = OpenLine(
                    query=line.query,
                    quantity=line.quantity,
                    options=[
                        ProductOption(sku=p.sku, name=p.name, price_cents=p.price_cents)
                        for p in available
                    ],
                )
                self.state.dialogue.awaiting = "order_choice"
                self._offer_products(str(line.query), available)
                return False
            product = available[0]
            if line.quantity is None or line.quantity > product.stock:
                order.line = OpenLine(sku=product.sku, name=product.name)
                self.state.dialogue.awaiting = "order_quantity"
                if line.quantity is None:
                    self.say(f"Quantas unidades de *{product.name}* você quer?")
                else:
                    units = "unidade" if product.stock == 1 else "unidades"
                    self.say(
                        f"Temos só {product.stock} {units} de *{product.name}* no momento. "
                        "Quantas você quer?"
                    )
                return False
            items.append(OrderItem(sku=product.sku, quantity=line.quantity))
            order.items = items
        order.pending = []
        if not items:
            self.state.dialogue.awaiting = "order_items"
            self.say(ASK_PRODUCT)
            return False
        return True

    def _ask_open_line(self) -> bool:
        """A line still waiting for "qual delas?" or "quantas?" (the customer sent something
        else meanwhile, such as the CPF): ask it again instead of starting the order over."""
        line = self.state.order.line
        if line is None:
            return False
        if line.options:
            self.state.dialogue.awaiting = "order_choice"
            self._offer_products(line.query or "o que você pediu", line.options)
            return True
        if line.sku:
            self.state.dialogue.awaiting = "order_quantity"
            self.say(f"Quantas unidades de *{line.name or line.sku}* você quer?")
            return True
        return False

    def _offer_products(
        self, query: str, products: Sequence[ProductView] | Sequence[ProductOption]
    ) -> None:
        # Memory written before prices were kept with the choice has none: shown as R$ 0,00
        # would mislead, so those rows show the code alone.
        offered = [(p.sku, p.name, p.price_cents) for p in products]
        body = f"Encontrei {len(offered)} opções para *{query}*. Qual delas você quer?"
        if self.turn.interactive:
            rows = tuple(
                ListRow(
                    sku, f"{sku} • {format_brl(price)}" if price is not None else sku, name[:72]
                )
                for sku, name, price in offered
            )
            self.say(
                ListContent(body=body, button="Ver opções", sections=(ListSection(None, rows),))
            )
            return
        lines = [
            f"{number}. {name} ({sku})" + (f": {format_brl(price)}" if price is not None else "")
            for number, (sku, name, price) in enumerate(offered, 1)
        ]
        self.say(body + "\n" + "\n".join(lines) + "\nResponda com o número.")

    async def _prepare_order(self) -> None:
        if not await self._resolve_order():
            return
        items = self.state.order.items
        tools = await self.tools()
        self.tools_called.append("prepare_order")
        summary = await tools.prepare_order(
            PrepareOrder(items=[OrderLine(sku=i.sku, quantity=i.quantity) for i in items])
        )
        self.state.dialogue.awaiting = "order_confirm"
        self.state.order.summary_id = summary.summary_id
        body = (
            "Resumo do pedido:\n"
            + "\n".join(summary.lines)
            + f"\nTotal: *{format_brl(summary.total_cents)}*\nPosso confirmar?"
        )
        if self.turn.interactive:
            self.say(
                ButtonsContent(
                    body=body, buttons=(Button("sim", "Confirmar"), Button("nao", "Cancelar"))
                )
            )
        else:
            self.say(body + " (responda *sim* ou *não*)")

    async def _confirm_order(self, confirmed: bool) -> None:
        summary_id = self.state.order.summary_id or ""
        if not confirmed:
            self._end_order()
            self.say("Pedido cancelado. Posso ajudar com mais alguma coisa?")
            return
        tools = await self.tools()
        self.step = {"do": "confirm_order", "summary_id": summary_id}
        self.tools_called.append("confirm_order")
        placed = await tools.confirm_order(ConfirmOrder(summary_id=summary_id))
        self._end_order()
        self.say(_placed_text(placed.message, placed.order_id))


def _placed_text(message: str, order_id: str) -> str:
    """The ERP's own words about the order, with its number once, in bold."""
    if order_id in message:
        return message.replace(order_id, f"*{order_id}*", 1)
    return f"{message} Número do pedido: *{order_id}*."


def _asked(line: RequestedLine) -> AskedLine:
    return AskedLine(sku=line.sku, query=line.query, quantity=line.quantity)


def _requested(line: AskedLine) -> RequestedLine:
    return RequestedLine(line.sku, line.query, line.quantity)
