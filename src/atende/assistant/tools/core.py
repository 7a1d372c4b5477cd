"""The business tools. Each checks authorization itself; engines only decide when to call them."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from unidecode import unidecode

from atende.assistant.memory import OrderItem, PendingChallenge, SessionMemory, SummaryRecord
from atende.assistant.tools.models import (
    AnswerChallenge,
    ChallengeResult,
    ConfirmOrder,
    Identified,
    IdentifyCustomer,
    OpenTitulos,
    OrderList,
    OrderPlaced,
    OrderQuery,
    OrderSummary,
    OrderView,
    PrepareOrder,
    ProductView,
    RecentOrders,
    RequestSecondCopy,
    SecondCopyView,
    StockQuery,
    StockResult,
    TituloView,
)
from atende.assistant.tools.verification import (
    MAX_ATTEMPTS,
    QUESTIONS,
    Challenge,
    ChallengePolicy,
    challenge_passed,
    mark_verified,
    same_phone,
    verified_document,
)
from atende.brazil.documents import check_document
from atende.brazil.money import format_brl
from atende.connectors.port import (
    ConnectorError,
    ConnectorUnavailable,
    Customer,
    ErpConnector,
    InvalidRequest,
    NotFound,
    Order,
    OrderRequest,
    OrderRequestItem,
    Product,
    Refused,
    SecondCopy,
)
from atende.kit.errors import AtendeError
from atende.kit.logging import get_logger

T = TypeVar("T")
_log = get_logger(__name__)
#: Products offered at most when a name matches several ("qual delas?" stays short).
ORDER_CHOICES = 5
_MIN_SEARCH_WORD = 3
_MAX_WORD_SEARCHES = 4


def _fold(text: str) -> str:
    return unidecode(text).casefold()


def _stem(word: str) -> str:
    # A crude plural strip, as the demo catalogue's search does ("canecas" finds "Caneca").
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


class ToolError(Exception):
    """A tool could not do what was asked; ``message`` is pt-BR and may be shown as is."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotVerified(ToolError):
    def __init__(self) -> None:
        super().__init__(
            "not_verified",
            "Preciso confirmar sua identidade antes de mostrar esses dados. Qual é o seu CPF ou "
            "CNPJ?",
        )


class PdfLinks(Protocol):
    """The port to the one place that turns a second copy's PDF into a link a customer can
    open (``atende.business.links.BoletoLinks``, shared with the Business API; wired in
    ``main.py``): a sealed, expiring link under ``ATENDE_PUBLIC_URL``, the ERP's own https
    link, or None."""

    async def for_customer(self, tenant_id: str, document: str, copy: SecondCopy) -> str | None: ...


@dataclass(slots=True)
class ToolContext:
    tenant_id: str
    conversation_id: str
    erp: ErpConnector
    #: The conversation contact's phone (E.164), None when the channel hides it.
    contact_phone: str | None
    #: The session memory; tools record verification and pending orders in it.
    state: SessionMemory = field(default_factory=SessionMemory)
    challenge: ChallengePolicy = field(default_factory=ChallengePolicy)
    #: Increases with every customer turn: a summary must be confirmed in a later turn.
    turn_number: int = 0
    #: Makes the boleto PDF links customers are sent. None: no link at all, since a connector's
    #: own ``pdf_url`` may be a path only it understands.
    pdf_links: PdfLinks | None = None


#: What a tool says when the ERP finds nothing and the call gave no wording of its own: it names
#: nothing, so that a product lookup can never read like a customer record.
NOT_FOUND = "Não encontrei o que você pediu. Pode conferir e me mandar de novo?"


async def _erp(call: Awaitable[T], *, not_found: str = NOT_FOUND) -> T:
    """Await an ERP call, turning its failures into :class:`ToolError` in pt-BR; ``not_found``
    is the text for :class:`NotFound`, worded for what this call looks up."""
    try:
        return await call
    except ConnectorUnavailable:
        raise ToolError(
            "unavailable",
            "Nosso sistema está fora do ar neste momento. 😕 Pode tentar de novo em alguns "
            "minutos, ou, se preferir, peça para falar com um atendente.",
        ) from None
    except NotFound:
        raise ToolError("not_found", not_found) from None
    except Refused as error:
        raise ToolError("refused", error.reason) from None
    except InvalidRequest as error:
        raise ToolError("invalid", str(error)) from None
    except AtendeError:
        # A misconfigured adapter: the engines offer a person and the admins are told.
        raise
    except ConnectorError as error:
        # The connector's messages name the route and status, never the customer's data.
        _log.warning("erp call failed", error=str(error)[:200])
        # Any other connector failure (an answer outside the ERP's contract…) is not worth a
        # retry of the whole turn: the customer is answered, and the job ends.
        raise ToolError(
            "broken",
            "Não consegui consultar o sistema da loja agora. Se preferir, responda *atendente* "
            "para falar com uma pessoa.",
        ) from None


async def _none_if_not_found(call: Awaitable[T]) -> T | None:
    try:
        return await _erp(call)
    except ToolError as error:
        if error.code == "not_found":
            return None
        raise


def _order_view(order: Order) -> OrderView:
    return OrderView(
        id=order.id,
        number=order.shown_number,
        status=order.status,
        total_cents=order.total_cents,
        items=[f"{item.quantity}x {item.name}" for item in order.items],
        carrier=order.carrier,
        tracking_code=order.tracking_code,
        tracking_url=order.tracking_url,
    )


class BusinessTools:
    def __init__(self, context: ToolContext) -> None:
        self.ctx = context

    def _verified(self) -> str:
        document = verified_document(self.ctx.state)
        if document is None:
            raise NotVerified
        return document

    async def identify_customer(self, args: IdentifyCustomer) -> Identified:
        """Verified at once on the customer's own phone; otherwise the challenge for the
        document's kind, whether or not the ERP knows the document (see ``verification``)."""
        check = check_document(args.document)
        if not check.valid or check.value is None:
            return Identified(status="invalid_document", reason=check.reason)
        if verified_document(self.ctx.state) == check.value:
            return Identified(status="verified")
        customer = await self._customer(check.value)
        if customer is not None and same_phone(self.ctx.contact_phone, customer.phone):
            mark_verified(self.ctx.state, customer.document, "phone")
            return Identified(status="verified", first_name=customer.name.split(" ")[0])
        pending = self.ctx.state.identity.pending
        same_document = pending is not None and pending.document == check.value
        if pending is not None and same_document and pending.attempts <= 0:
            return Identified(status="locked")
        self.ctx.state.identity.pending = PendingChallenge(
            document=check.value,
            attempts=pending.attempts if pending is not None and same_document else MAX_ATTEMPTS,
        )
        # No name before verification: it would confirm to a stranger whose CPF this is.
        challenge = self.ctx.challenge.for_kind(check.kind)
        return Identified(status="challenge", question=QUESTIONS[challenge])

    async def answer_challenge(self, args: AnswerChallenge) -> ChallengeResult:
        pending = self.ctx.state.identity.pending
        if pending is None:
            return ChallengeResult(status="no_challenge")
        if pending.attempts <= 0:
            return ChallengeResult(status="locked")
        document = pending.document
        challenge = self.ctx.challenge.for_kind(check_document(document).kind)
        # An unknown document is answered like a wrong answer: same count, same lock.
        customer = await self._customer(document)
        amounts = await self._amounts(document) if challenge is Challenge.invoice_amount else None
        if customer is not None and challenge_passed(
            challenge, customer, args.answer, amounts or frozenset()
        ):
            mark_verified(self.ctx.state, customer.document, challenge.value)
            return ChallengeResult(status="verified")
        pending.attempts -= 1
        left = pending.attempts
        return ChallengeResult(status="wrong" if left > 0 else "locked", attempts_left=left)

    async def _amounts(self, document: str) -> frozenset[int]:
        """The amounts a customer may answer :attr:`Challenge.invoice_amount` with: their open
        boletos and recent orders. The same two calls for an unknown document (none)."""
        titulos = await _none_if_not_found(self.ctx.erp.open_titulos(document))
        orders = await _none_if_not_found(self.ctx.erp.recent_orders(document, 60))
        return frozenset(
            [t.amount_cents for t in titulos or []] + [o.total_cents for o in orders or []]
        )

    async def _customer(self, document: str) -> Customer | None:
        """The ERP's customer behind ``document``, None when there is none. Whichever it is, the
        caller answers the same way until the challenge is passed."""
        return await _none_if_not_found(self.ctx.erp.find_customer(document))

    async def open_titulos(self) -> OpenTitulos:
        titulos = await _erp(
            self.ctx.erp.open_titulos(self._verified()),
            not_found="Não encontrei os boletos desse cadastro.",
        )
        return OpenTitulos(
            titulos=[TituloView(**t.model_dump(exclude={"document_number"})) for t in titulos]
        )

    async def second_copy(self, args: RequestSecondCopy) -> SecondCopyView:
        document = self._verified()
        copy = await _erp(
            self.ctx.erp.second_copy(document, args.titulo_id),
            not_found="Não encontrei esse boleto entre os seus boletos em aberto.",
        )
        links = self.ctx.pdf_links
        link = None
        if links is not None:
            link = await links.for_customer(self.ctx.tenant_id, document, copy)
        return SecondCopyView(
            titulo_id=copy.titulo_id,
            amount_cents=copy.amount_cents,
            due_date=copy.due_date,
            linha_digitavel=copy.linha_digitavel,
            pdf_url=link,
            pix_copia_e_cola=copy.pix_copia_e_cola,
            reissued=copy.reissued,
        )

    async def recent_orders(self, args: RecentOrders) -> OrderList:
        orders = await _erp(
            self.ctx.erp.recent_orders(self._verified(), args.days),
            not_found="Não encontrei pedidos desse cadastro.",
        )
        return OrderList(orders=[_order_view(order) for order in orders])

    async def _order(self, document: str, order_id: str) -> OrderView:
        """The customer's order by the number they wrote; not theirs (or no such order) gets
        a text that names the number, so a typo is easy to see."""
        try:
            return _order_view(await _erp(self.ctx.erp.get_order(document, order_id)))
        except ToolError as error:
            if error.code != "not_found":
                raise
        shown = order_id.strip()[:20]
        raise ToolError(
            "not_found",
            f"Não encontrei o pedido {shown} no seu cadastro. Confere o número? Se quiser, "
            "escreva *meus pedidos* para ver os seus pedidos recentes.",
        )

    async def order_status(self, args: OrderQuery) -> OrderView:
        document = self._verified()
        if args.order_id:
            return await self._order(document, args.order_id)
        orders = await _erp(self.ctx.erp.recent_orders(document, 60))
        if not orders:
            raise ToolError("not_found", "Não encontrei pedidos recentes no seu cadastro.")
        return _order_view(orders[0])

    async def delivery_tracking(self, args: OrderQuery) -> OrderView:
        """The order's tracking; without an id, the most recent order that has one."""
        document = self._verified()
        if args.order_id:
            return await self._order(document, args.order_id)
        orders = await _erp(self.ctx.erp.recent_orders(document, 60))
        tracked = [order for order in orders if order.tracking_code] or orders
        if not tracked:
            raise ToolError("not_found", "Não encontrei pedidos recentes no seu cadastro.")
        return _order_view(tracked[0])

    async def stock(self, args: StockQuery) -> StockResult:
        # Prices and stock are public: no verification needed.
        if args.sku:
            sku = args.sku.strip().upper()[:20]
            products = [
                await _erp(
                    self.ctx.erp.get_product(sku),
                    not_found=f"Não encontrei o produto *{sku}* no nosso catálogo. Confere o "
                    "código? Se preferir, me diga o nome do produto.",
                )
            ]
        elif args.query:
            products = await _erp(self.ctx.erp.search_products(args.query, limit=5))
        else:
            raise ToolError("invalid", "Qual produto você procura?")
        return StockResult(products=[ProductView(**p.model_dump()) for p in products])

    async def order_products(self, args: StockQuery) -> StockResult:
        """The products an order line may mean: the code's product; else the catalogue's search
        for the customer's words; else, when the words together find nothing (customers add
        words the catalogue lacks: "café moído bem forte"), the products that have the most of
        them. At most :data:`ORDER_CHOICES`, available ones first."""
        if args.sku:
            return await self.stock(args)
        query = (args.query or "").strip()
        if not query:
            raise ToolError("invalid", "Qual produto você procura?")
        found = await _erp(self.ctx.erp.search_products(query, limit=ORDER_CHOICES))
        words = [word for word in query.split() if len(word) >= _MIN_SEARCH_WORD]
        if not found and len(words) > 1:
            scores: dict[str, tuple[int, Product]] = {}
            for word in sorted(words, key=len, reverse=True)[:_MAX_WORD_SEARCHES]:
                for product in await _erp(self.ctx.erp.search_products(word, limit=10)):
                    name = _fold(f"{product.name} {product.sku}")
                    score = sum(_stem(other) in name for other in words)
                    scores[product.sku] = (score, product)
            best = max((score for score, _ in scores.values()), default=0)
            found = [product for score, product in scores.values() if score == best and best]
            found.sort(key=lambda product: not product.available)
            found = found[:ORDER_CHOICES]
        return StockResult(products=[ProductView(**p.model_dump()) for p in found])

    async def prepare_order(self, args: PrepareOrder) -> OrderSummary:
        self._verified()
        lines: list[str] = []
        total = 0
        for line in args.items:
            product = await _erp(self.ctx.erp.get_product(line.sku.strip().upper()))
            if not product.available:
                raise ToolError("no_stock", f"{product.name} está sem estoque no momento.")
            if product.stock < line.quantity:
                units = "unidade" if product.stock == 1 else "unidades"
                raise ToolError(
                    "no_stock",
                    f"Temos só {product.stock} {units} de {product.name} em estoque no momento.",
                )
            subtotal = product.price_cents * line.quantity
            lines.append(f"{line.quantity}x {product.name}: {format_brl(subtotal)}")
            total += subtotal
        summary = OrderSummary(summary_id=secrets.token_hex(6), lines=lines, total_cents=total)
        self.ctx.state.order.summary = SummaryRecord(
            summary_id=summary.summary_id,
            items=[OrderItem(sku=line.sku, quantity=line.quantity) for line in args.items],
            turn=self.ctx.turn_number,
        )
        return summary

    async def confirm_order(self, args: ConfirmOrder) -> OrderPlaced:
        """Place the order summarised earlier. Only a summary shown in an EARLIER turn can be
        confirmed: the customer must have seen it and answered, whatever an engine decides."""
        document = self._verified()
        pending = self.ctx.state.order.summary
        if pending is None or pending.summary_id != args.summary_id:
            raise ToolError("no_summary", "Não encontrei um pedido aguardando confirmação.")
        if pending.turn >= self.ctx.turn_number:
            raise ToolError("unconfirmed", "Confirme o resumo do pedido antes de eu registrar.")
        request = OrderRequest(
            document=document,
            items=[
                OrderRequestItem(sku=item.sku, quantity=item.quantity) for item in pending.items
            ],
        )
        # One key per conversation and summary: retries never create a second order.
        key = f"{self.ctx.conversation_id}:{args.summary_id}"
        receipt = await _erp(self.ctx.erp.place_order(request, key))
        self.ctx.state.order.summary = None
        return OrderPlaced(**receipt.model_dump())
