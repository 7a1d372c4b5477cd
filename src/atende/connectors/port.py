"""The port to the business's own systems (ERP, billing, stock): typed calls and typed failures.

Every adapter, the embedded demo ERP included, speaks these models so the assistant's tools and the
Business API never see a vendor's payload. Money is always integer cents (no float rounding in
boletos), dates are calendar dates in the business's own time zone, and documents are normalised
(digits, or upper-case alphanumerics for the 2026 CNPJ) before they reach an adapter's store.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

DocumentKind = Literal["cpf", "cnpj"]
TituloStatus = Literal["open", "overdue", "paid"]
OrderStatus = Literal["processing", "shipped", "delivered", "cancelled"]
ReceiptStatus = Literal["created", "pending"]

# E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
_E164 = r"^\+[1-9]\d{7,14}$"
# CPF (11 digits) or CNPJ (14 characters, alphanumeric since the 2026 format), without punctuation.
_DOCUMENT = r"^(?:\d{11}|[0-9A-Z]{12}\d{2})$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Customer(_Frozen):
    id: str
    document: str = Field(pattern=_DOCUMENT)
    kind: DocumentKind
    name: str
    phone: str | None = Field(default=None, pattern=_E164)
    email: str | None = None
    birth_date: date | None = None
    cep: str | None = Field(default=None, pattern=r"^\d{8}$")


class Titulo(_Frozen):
    id: str
    document_number: str
    description: str
    amount_cents: int = Field(ge=0)
    due_date: date
    status: TituloStatus
    days_overdue: int = Field(ge=0)


class SecondCopy(_Frozen):
    titulo_id: str
    amount_cents: int = Field(ge=0)
    due_date: date
    linha_digitavel: str = Field(pattern=r"^\d{47}$")
    barcode: str = Field(pattern=r"^\d{44}$")
    pdf_url: str | None = None
    pix_copia_e_cola: str | None = None
    reissued: bool = False
    fine_cents: int = Field(default=0, ge=0)
    interest_cents: int = Field(default=0, ge=0)


class OrderItem(_Frozen):
    sku: str
    name: str
    quantity: int = Field(gt=0)
    unit_price_cents: int = Field(ge=0)


class Order(_Frozen):
    #: What the system identifies the order by (what ``get_order`` also accepts).
    id: str
    created_at: datetime
    status: OrderStatus
    items: list[OrderItem]
    total_cents: int = Field(ge=0)
    carrier: str | None = None
    tracking_code: str | None = None
    tracking_url: str | None = None
    delivered_at: datetime | None = None
    #: The number the store shows its customers (in its e-mails, on its site), when it is not
    #: the id: Nuvemshop's ``#5001`` for the order whose id is ``1870005001``. Customers are
    #: told this one (:attr:`shown_number`), never an internal id they have not seen.
    number: str | None = None

    @property
    def shown_number(self) -> str:
        return self.number or self.id


class Product(_Frozen):
    sku: str
    name: str
    price_cents: int = Field(ge=0)
    stock: int = Field(ge=0)
    available: bool


class OrderRequestItem(_Frozen):
    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0)


class OrderRequest(_Frozen):
    document: str
    items: list[OrderRequestItem] = Field(min_length=1)
    notes: str | None = None


class OrderReceipt(_Frozen):
    order_id: str
    status: ReceiptStatus
    total_cents: int = Field(ge=0)
    #: pt-BR text the assistant may show the customer as is.
    message: str


class ConnectorError(Exception):
    """Something went wrong talking to the business's systems."""


class ConnectorUnavailable(ConnectorError):
    """Transient: timeout, 5xx, connection refused, circuit open. Worth retrying later."""


class NotFound(ConnectorError):
    """The customer, título, order or product does not exist (for this customer)."""


class Refused(ConnectorError):
    """A business rule said no. ``reason`` is pt-BR and may be shown to the customer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidRequest(ConnectorError):
    """The request itself is wrong (malformed document, unknown SKU, bad quantity)."""


class ErpConnector(Protocol):
    """The business's systems behind typed calls.

    ``document`` arguments accept CPF or CNPJ with or without punctuation; adapters normalise them
    and raise :class:`InvalidRequest` for a malformed one and :class:`NotFound` for an unknown one.
    A customer only ever sees their own títulos and orders: another customer's id is NotFound.
    """

    name: str

    async def find_customer(self, document: str) -> Customer: ...

    async def open_titulos(self, document: str) -> list[Titulo]:
        """Open and overdue títulos only, oldest due date first."""
        ...

    async def second_copy(self, document: str, titulo_id: str) -> SecondCopy: ...

    async def recent_orders(self, document: str, days: int = 60) -> list[Order]:
        """Orders created in the last ``days`` days, newest first."""
        ...

    async def get_order(self, document: str, order_id: str) -> Order:
        """One of the customer's orders by its number as the customer writes it: the id itself,
        or with or without the ERP's prefix, ``#`` or ``nº`` (``PED-5001``, ``5001``, ``#5001``),
        matched with :func:`atende.connectors.order_numbers.names_order`."""
        ...

    async def get_product(self, sku: str) -> Product: ...

    async def search_products(self, query: str, limit: int = 10) -> list[Product]: ...

    async def place_order(self, request: OrderRequest, idempotency_key: str) -> OrderReceipt:
        """The same key always yields the same receipt and never a second order."""
        ...


class ConnectorResolver(Protocol):
    """Which connector serves a tenant: the one way the core reaches the business's systems.

    The core (assistant, deferred requests) names this port only; the registry that builds the
    concrete adapters from a tenant's settings implements it and is wired in the composition root,
    so that adding an ERP adapter never touches the assistant (import-linter enforces it).
    """

    async def erp(self, tenant_id: str) -> ErpConnector:
        """The tenant's connector, wrapped in the resilience layer. Raises
        :class:`atende.kit.errors.NotFound` for an unknown tenant or one without a connector."""
        ...
