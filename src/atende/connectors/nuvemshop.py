"""An :class:`ErpConnector` for a store on Nuvemshop (Tiendanube): customers, orders, catalogue.

Nuvemshop's REST API (``https://api.tiendanube.com/v1/{store_id}/…``, also served under
``api.nuvemshop.com.br``) authenticates with ``Authentication: bearer <token>`` (Nuvemshop's own
header name, not ``Authorization``) and requires a ``User-Agent`` that names the app and a contact
(``"MyApp (contact@example.com)"``); without one it answers 400. Money comes as decimal strings
(``"184.85"``) and becomes integer cents through :class:`~decimal.Decimal`, never a float.

Mapping onto the port:

* customers are found with ``GET /customers?q=<document>`` and matched exactly on
  ``identification`` (``q`` is a fuzzy search); stores hold the document as typed at checkout, so a
  bare search that finds nobody is retried with the formatted document;
* orders: ``status`` cancelled → cancelled; ``shipping_status`` delivered → delivered; a
  ``closed`` order whose parcel went out → delivered (Nuvemshop's order has no delivery status of
  its own: closing is how a store finishes a delivered order), its ``closed_at`` being the
  delivery time; shipped/fulfilled → shipped; anything else (unpacked, unshipped, unfulfilled)
  → processing. ``Order.id`` is Nuvemshop's order ``id`` (what ``GET /orders/{id}`` takes), and
  ``shipping_option`` is reported as the carrier; ``get_order`` also takes the order ``number``
  customers see in the store's e-mails (``#5001``), looked for among their orders of the last year;
* products: one :class:`Product` per variant (the variant's SKU, price and stock); a promotional
  price, when set, is the price; a variant whose stock is not tracked (``stock`` null) is
  available with :data:`UNTRACKED_STOCK` units;
* lists are paginated with ``page``/``per_page`` and the ``Link`` header; at most
  :data:`MAX_PAGES` pages are followed, and only on the API's own origin (the token never leaves
  it). Nuvemshop answers an empty list with a 404 ("Last page is 0"), which is read as empty.

Deliberate gaps, answered with pt-BR reasons the assistant may show as they are:

* Nuvemshop has no boletos/títulos API: :meth:`NuvemshopConnector.open_titulos` is always empty
  (after checking the customer exists) and :meth:`NuvemshopConnector.second_copy` is refused;
* :meth:`NuvemshopConnector.place_order` is refused: creating orders (draft orders) through the
  API is out of scope for now, the customer finishes the purchase in the store.

Errors: 404 → NotFound; 401/403 → ``ConnectorError("unauthorized")``; other 4xx (400 for a
missing User-Agent, 422) → ConnectorError, since documents and ids are validated here first;
429, 5xx, timeouts and connection errors → ConnectorUnavailable. No retries here: wrap it in
:class:`~atende.connectors.resilience.ResilientConnector`. Nothing logged carries a document, an
e-mail or the token.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError
from yarl import URL

from atende.brazil.documents import DocumentKind as CheckedKind
from atende.brazil.documents import check_document, format_document
from atende.connectors.order_numbers import names_order, parse_order_number
from atende.connectors.port import (
    ConnectorError,
    ConnectorUnavailable,
    Customer,
    DocumentKind,
    InvalidRequest,
    NotFound,
    Order,
    OrderItem,
    OrderReceipt,
    OrderRequest,
    OrderStatus,
    Product,
    Refused,
    SecondCopy,
    Titulo,
)
from atende.connectors.wire import json_or_none, parse_answer
from atende.kit.logging import get_logger

__all__ = [
    "MAX_PAGES",
    "NO_BOLETOS",
    "NO_ORDERS_HERE",
    "UNTRACKED_STOCK",
    "NuvemshopConnector",
    "to_cents",
]

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)

DEFAULT_BASE_URL = "https://api.tiendanube.com/v1"
#: Pages of a list followed at most: a customer's recent orders fit in one page of 50.
MAX_PAGES = 4
#: Stock reported for a variant whose stock the store does not track (``stock`` null): enough for
#: any "quantity ≤ stock" check; not a number to read out to a customer.
UNTRACKED_STOCK = 9999
NO_BOLETOS = "Esta loja não emite boletos pelo atendimento."
NO_ORDERS_HERE = (
    "Ainda não consigo registrar pedidos por aqui; você pode finalizar a compra no site da loja."
)

_PER_PAGE = 50
_MAX_SEARCH_LIMIT = 100
#: How far back :meth:`NuvemshopConnector.get_order` looks for an order by its number.
_ORDER_NUMBER_DAYS = 365
_CENT = Decimal("0.01")
_E164 = re.compile(r"\+[1-9]\d{7,14}")
_NOT_DIGIT = re.compile(r"\D")
_SHIPPED = frozenset({"shipped", "fulfilled"})


class _Wire(BaseModel):
    # Nuvemshop adds fields over time; only the ones read here are declared.
    model_config = ConfigDict(extra="ignore")


class _Address(_Wire):
    zipcode: str | None = None


class _Customer(_Wire):
    id: int | str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    identification: str | None = None
    default_address: _Address | None = None


class _CustomerRef(_Wire):
    id: int | str


class _OrderProduct(_Wire):
    sku: str | None = None
    variant_id: int | str | None = None
    name: str = ""
    quantity: int
    price: str | int | float


class _Order(_Wire):
    id: int | str
    number: int | str | None = None
    created_at: datetime
    status: str
    shipping_status: str | None = None
    shipping_tracking_number: str | None = None
    shipping_tracking_url: str | None = None
    shipping_option: Any = None
    closed_at: datetime | None = None
    customer: _CustomerRef | None = None
    products: list[_OrderProduct] = []
    total: str | int | float


class _Variant(_Wire):
    id: int | str | None = None
    sku: str | None = None
    price: str | int | float | None = None
    promotional_price: str | int | float | None = None
    stock: int | None = None
    stock_management: bool | None = None
    values: list[dict[str, str]] = []


class _Product(_Wire):
    id: int | str
    name: dict[str, str] | str
    variants: list[_Variant] = []


class NuvemshopConnector:
    """One Nuvemshop store. One instance per store for the life of the process; :meth:`aclose`."""

    name = "nuvemshop"

    def __init__(
        self,
        store_id: str,
        access_token: str,
        *,
        user_agent: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 5.0,
        max_connections: int = 100,
    ) -> None:
        self._store_url = URL(f"{base_url.rstrip('/')}/{quote(store_id.strip(), safe='')}")
        self._token = access_token
        self._user_agent = user_agent.strip()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # aiohttp, not httpx: one shared httpx.AsyncClient collapses under hundreds of concurrent
        # requests (encode/httpx#3215). Created on first use: a session binds to the running loop.
        if self._session is None or self._session.closed:
            headers = {"Authentication": f"bearer {self._token}", "Accept": "application/json"}
            if self._user_agent:
                headers["User-Agent"] = self._user_agent
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=self._timeout,
                headers=headers,
                # Never aiohttp's own "Python/… aiohttp/…": Nuvemshop wants the app and a contact,
                # and a blank user_agent should fail loudly (400), not pass as someone else.
                skip_auto_headers=("User-Agent",),
                raise_for_status=False,
            )
        return self._session

    async def aclose(self) -> None:
        """Close the pool. The connector stays usable: a later call opens a new one."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    # -- customers ------------------------------------------------------------------------------

    async def find_customer(self, document: str) -> Customer:
        value, kind = _document(document)
        found = await self._find_customer(value)
        if found is None:
            raise NotFound("Cliente não encontrado.")
        return Customer(
            id=str(found.id),
            document=value,
            kind=kind,
            name=(found.name or "").strip(),
            phone=_phone(found.phone),
            email=found.email or None,
            cep=_cep(found.default_address.zipcode if found.default_address else None),
        )

    async def _find_customer(self, document: str) -> _Customer | None:
        for query in dict.fromkeys([document, format_document(document)]):
            pages = await self._list("customers", {"q": query}, _Customer, max_pages=1)
            for customer in pages:
                if _same_document(customer.identification, document):
                    return customer
        return None

    async def _customer_id(self, document: str) -> str:
        value, _ = _document(document)
        found = await self._find_customer(value)
        if found is None:
            raise NotFound("Cliente não encontrado.")
        return str(found.id)

    # -- billing: not a Nuvemshop feature -------------------------------------------------------

    async def open_titulos(self, document: str) -> list[Titulo]:
        # The lookup keeps the port's promise: an unknown customer is NotFound, not "no debts".
        await self._customer_id(document)
        return []

    async def second_copy(self, document: str, titulo_id: str) -> SecondCopy:
        _document(document)
        raise Refused(NO_BOLETOS)

    # -- orders ---------------------------------------------------------------------------------

    async def recent_orders(self, document: str, days: int = 60) -> list[Order]:
        if days < 1:
            raise InvalidRequest("O período deve ser de pelo menos 1 dia.")
        customer_id = await self._customer_id(document)
        orders = [_order(item) for item in await self._orders_of(customer_id, days)]
        orders.sort(key=lambda order: order.created_at, reverse=True)
        return orders

    async def _orders_of(self, customer_id: str, days: int) -> list[_Order]:
        since = datetime.now(UTC) - timedelta(days=days)
        raw = await self._list(
            "orders",
            {"customer_ids": customer_id, "created_at_min": since.isoformat(timespec="seconds")},
            _Order,
        )
        # Filtered again here: the window and the owner are promises to the customer, whatever
        # the API made of the query.
        return [
            item for item in raw if item.created_at >= since and _owner(item) in {None, customer_id}
        ]

    async def get_order(self, document: str, order_id: str) -> Order:
        """The order by the number the store shows customers (``#5001``) or by its id.

        Customers only ever see the number, which the API does not take as an identifier, so it
        is looked for among the customer's orders of the last year first; an id (what the bot
        itself prints) is fetched directly after that.
        """
        customer_id = await self._customer_id(document)
        for item in await self._orders_of(customer_id, _ORDER_NUMBER_DAYS):
            if item.number is not None and names_order(order_id, str(item.number)):
                return _order(item)
        written = parse_order_number(order_id)
        if written is None or not written.compact.isdigit():
            raise NotFound("Pedido não encontrado.")
        body = await self._get_json(self._store_url / "orders" / written.compact)
        item = _parse(_Order, body)
        if _owner(item) != customer_id:
            raise NotFound("Pedido não encontrado.")
        return _order(item)

    async def place_order(self, request: OrderRequest, idempotency_key: str) -> OrderReceipt:
        raise Refused(NO_ORDERS_HERE)

    # -- catalogue ------------------------------------------------------------------------------

    async def get_product(self, sku: str) -> Product:
        wanted = sku.strip()
        if not wanted:
            raise InvalidRequest("Informe o código (SKU) do produto.")
        body = await self._get_json(self._store_url / "products" / "sku" / wanted)
        product = _parse(_Product, body)
        for found in _products(product):
            if found.sku.upper() == wanted.upper():
                return found
        raise NotFound("Produto não encontrado.")

    async def search_products(self, query: str, limit: int = 10) -> list[Product]:
        if not 1 <= limit <= _MAX_SEARCH_LIMIT:
            raise InvalidRequest(f"O limite deve estar entre 1 e {_MAX_SEARCH_LIMIT}.")
        query = query.strip()
        if not query:
            return []
        raw = await self._list(
            "products", {"q": query}, _Product, max_pages=1, per_page=min(limit, _PER_PAGE)
        )
        found = [variant for product in raw for variant in _products(product)]
        found.sort(key=lambda product: not product.available)
        return found[:limit]

    # -- HTTP -----------------------------------------------------------------------------------

    async def _list(
        self,
        resource: str,
        params: dict[str, str],
        model: type[M],
        *,
        max_pages: int = MAX_PAGES,
        per_page: int = _PER_PAGE,
    ) -> list[M]:
        url: URL | None = (self._store_url / resource).with_query(
            {**params, "page": "1", "per_page": str(per_page)}
        )
        items: list[M] = []
        for _ in range(max_pages):
            if url is None:
                break
            try:
                body, next_url = await self._get(url)
            except NotFound:
                # Nuvemshop's answer to an empty list (or a page past the last one).
                break
            if not isinstance(body, list):
                raise ConnectorError(f"nuvemshop answered a {type(body).__name__} for a list")
            items.extend(_parse(model, entry) for entry in body)
            url = next_url if next_url is not None and self._same_origin(next_url) else None
        else:
            if url is not None:
                log.warning("nuvemshop list truncated", resource=resource, pages=max_pages)
        return items

    def _same_origin(self, url: URL) -> bool:
        return url.origin() == self._store_url.origin()

    async def _get_json(self, url: URL) -> Any:
        body, _ = await self._get(url)
        return body

    async def _get(self, url: URL) -> tuple[Any, URL | None]:
        session = self._get_session()
        try:
            async with session.get(url) as response:
                status = response.status
                raw = await response.read()
                link = response.links.get("next")
        except TimeoutError as exc:
            raise ConnectorUnavailable("timeout") from exc
        except aiohttp.InvalidURL as exc:
            raise ConnectorError("invalid Nuvemshop URL") from exc
        except aiohttp.ClientError as exc:
            # The type only: aiohttp's messages quote the URL, and queries carry documents.
            raise ConnectorUnavailable(f"nuvemshop unreachable: {type(exc).__name__}") from exc
        body = json_or_none(raw)
        if 200 <= status < 300:
            if body is None:
                raise ConnectorError(f"nuvemshop answered {status} without a JSON body")
            next_url = link.get("url") if link is not None else None
            return body, next_url if isinstance(next_url, URL) else None
        _raise_for(status, url.path)


def _raise_for(status: int, path: str) -> NoReturn:
    if status == 404:
        raise NotFound("Não encontrado.")
    # The path only (the store id and a resource): queries carry documents and e-mails.
    log.warning("nuvemshop error", path=path, http_status=status)
    if status in {401, 403}:
        raise ConnectorError("unauthorized")
    if status in {408, 429} or status >= 500:
        raise ConnectorUnavailable(f"nuvemshop answered {status}")
    raise ConnectorError(f"nuvemshop rejected the request ({status})")


def _parse(model: type[M], body: Any) -> M:
    return parse_answer(model, body, who="nuvemshop")


def _document(text: str) -> tuple[str, DocumentKind]:
    check = check_document(text)
    if not check.valid or check.value is None:
        raise InvalidRequest(check.message or "Documento inválido.")
    return check.value, "cpf" if check.kind is CheckedKind.cpf else "cnpj"


def _same_document(identification: str | None, document: str) -> bool:
    if not identification:
        return False
    check = check_document(identification)
    return check.value == document


def _phone(raw: str | None) -> str | None:
    """E.164 when the store's free-text phone can be read as one (Brazil assumed), else None."""
    if not raw:
        return None
    digits = _NOT_DIGIT.sub("", raw)
    if raw.strip().startswith("+"):
        candidate = f"+{digits}"
    elif len(digits) in {10, 11}:
        candidate = f"+55{digits}"
    elif len(digits) in {12, 13} and digits.startswith("55"):
        candidate = f"+{digits}"
    else:
        return None
    return candidate if _E164.fullmatch(candidate) else None


def _cep(raw: str | None) -> str | None:
    digits = _NOT_DIGIT.sub("", raw or "")
    return digits if len(digits) == 8 else None


def to_cents(amount: str | int | float) -> int:
    """``"184.85"`` → 18485, exactly; half a cent rounds up, as prices are printed."""
    try:
        # str() first: a JSON number arrives as a float, whose repr is the shortest exact text.
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ConnectorError("nuvemshop answered a malformed amount") from None
    if not value.is_finite() or value < 0:
        raise ConnectorError("nuvemshop answered a malformed amount")
    return int(value.quantize(_CENT, rounding=ROUND_HALF_UP) * 100)


def _owner(order: _Order) -> str | None:
    return str(order.customer.id) if order.customer is not None else None


def _status(order: _Order) -> OrderStatus:
    shipping = (order.shipping_status or "").lower()
    if order.status.lower() == "cancelled":
        return "cancelled"
    if shipping == "delivered":
        return "delivered"
    if shipping in _SHIPPED:
        return "delivered" if order.status.lower() == "closed" else "shipped"
    return "processing"


def _carrier(option: Any) -> str | None:
    if isinstance(option, str):
        return option.strip() or None
    if isinstance(option, dict):
        name = option.get("name")
        return name.strip() or None if isinstance(name, str) else None
    return None


def _order(order: _Order) -> Order:
    status = _status(order)
    created_at = order.created_at
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    try:
        return Order(
            id=str(order.id),
            created_at=created_at,
            status=status,
            items=[
                OrderItem(
                    sku=item.sku or str(item.variant_id or ""),
                    name=item.name,
                    quantity=item.quantity,
                    unit_price_cents=to_cents(item.price),
                )
                for item in order.products
            ],
            total_cents=to_cents(order.total),
            carrier=_carrier(order.shipping_option) if status != "processing" else None,
            tracking_code=order.shipping_tracking_number or None,
            tracking_url=order.shipping_tracking_url or None,
            delivered_at=order.closed_at if status == "delivered" else None,
            # As the store writes it in its e-mails and its customers' account pages.
            number=f"#{order.number}" if order.number not in {None, ""} else None,
        )
    except ValidationError as exc:
        raise ConnectorError(
            f"nuvemshop answered an order the port cannot hold: {exc.error_count()} error(s)"
        ) from None


def _name(product: _Product, variant: _Variant) -> str:
    if isinstance(product.name, str):
        base = product.name
    else:
        # The store's language first; Nuvemshop keys names by language code.
        base = next(
            (product.name[lang] for lang in ("pt", "es", "en") if product.name.get(lang)),
            next(iter(product.name.values()), ""),
        )
    options = [
        next((value[lang] for lang in ("pt", "es", "en") if value.get(lang)), "")
        for value in variant.values
    ]
    options = [option for option in options if option]
    return f"{base} ({' / '.join(options)})" if options else base


def _products(product: _Product) -> list[Product]:
    found: list[Product] = []
    for variant in product.variants:
        if not variant.sku:
            # Without a SKU the variant cannot be asked for again with get_product.
            continue
        price = to_cents(variant.price) if variant.price not in {None, ""} else 0
        promotional = variant.promotional_price
        if promotional not in {None, ""}:
            # What the storefront charges while a promotion runs.
            promo = to_cents(promotional or 0)
            if 0 < promo < price:
                price = promo
        tracked = variant.stock is not None and variant.stock_management is not False
        stock = max(0, variant.stock or 0) if tracked else UNTRACKED_STOCK
        found.append(
            Product(
                sku=variant.sku,
                name=_name(product, variant),
                price_cents=price,
                stock=stock,
                available=stock > 0,
            )
        )
    return found
