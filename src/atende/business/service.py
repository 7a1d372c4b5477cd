"""The Business API's use cases: validate, ask the tenant's connector, translate failures.

Connector errors are turned into domain errors with an HTTP status here, so the endpoints stay
thin and the assistant's tools (which call the same connectors) keep their own wording.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from atende.brazil.documents import check_document
from atende.business.errors import (
    ErpBadAnswer,
    ErpUnavailable,
    InvalidBusinessRequest,
    InvalidDocument,
    LinkGone,
    RefusedByBusiness,
)
from atende.business.links import CHANGED_BOLETO, BoletoLinks, PdfSource
from atende.business.registry import ConnectorRegistry
from atende.connectors.port import (
    ConnectorError,
    ConnectorUnavailable,
    Customer,
    InvalidRequest,
    NotFound,
    Order,
    OrderReceipt,
    OrderRequest,
    Product,
    Refused,
    SecondCopy,
    Titulo,
)
from atende.deferred.models import DeferredRequest, DeferredStatus
from atende.deferred.orders import OrderLedger
from atende.kit.errors import AtendeError, BadRequest
from atende.kit.errors import NotFound as NotFoundError
from atende.kit.logging import get_logger

T = TypeVar("T")

log = get_logger(__name__)


def valid_document(text: str) -> str:
    """The normalised CPF/CNPJ, or a 422 that says which check failed."""
    check = check_document(text)
    if not check.valid or check.value is None:
        raise InvalidDocument(check.message or "documento inválido", check.reason or "invalid")
    return check.value


async def _call(call: Awaitable[T]) -> T:
    try:
        return await call
    except NotFound as error:
        raise NotFoundError(str(error) or "não encontrado") from None
    except Refused as error:
        raise RefusedByBusiness(error.reason) from None
    except InvalidRequest as error:
        raise InvalidBusinessRequest(str(error)) from None
    except ConnectorUnavailable as error:
        raise ErpUnavailable(
            "o sistema da empresa não respondeu; tente novamente em instantes"
        ) from error
    except ConnectorError as error:
        if isinstance(error, AtendeError):  # a misconfiguration carries its own status and words
            raise
        # The connector's own words are about the wire (a malformed answer, a status): no PII.
        log.warning("erp answered outside its contract", error=str(error))
        raise ErpBadAnswer(
            "o sistema da empresa deu uma resposta inesperada; tente novamente mais tarde"
        ) from error


class BusinessService:
    def __init__(
        self, registry: ConnectorRegistry, links: BoletoLinks, orders: OrderLedger
    ) -> None:
        self._orders = orders
        self._registry = registry
        self._links = links

    async def customer(self, tenant_id: str, doc: str) -> Customer:
        document = valid_document(doc)
        erp = await self._registry.erp(tenant_id)
        return await _call(erp.find_customer(document))

    async def titulos(self, tenant_id: str, doc: str) -> list[Titulo]:
        document = valid_document(doc)
        erp = await self._registry.erp(tenant_id)
        return await _call(erp.open_titulos(document))

    async def second_copy(self, tenant_id: str, doc: str, titulo_id: str) -> SecondCopy:
        document = valid_document(doc)
        erp = await self._registry.erp(tenant_id)
        copy = await _call(erp.second_copy(document, titulo_id))
        # The same link the assistant sends (business/links.py): never the connector's own path.
        link = await self._links.for_customer(tenant_id, document, copy)
        return copy.model_copy(update={"pdf_url": link})

    async def boleto_pdf(self, seal: str) -> bytes:
        """The PDF behind a sealed link, after checking the título is still the customer's and
        still the boleto they were shown (same barcode): 404 for a forged link, 410 for a
        stale one."""
        grant = self._links.open(seal)
        erp = await self._registry.erp(grant.tenant_id)
        if not isinstance(erp.inner, PdfSource):
            raise LinkGone(CHANGED_BOLETO)
        try:
            titulos = await _call(erp.open_titulos(grant.document))
            if grant.titulo_id not in {t.id for t in titulos}:
                raise LinkGone(CHANGED_BOLETO)
            if grant.barcode is not None:
                current = await _call(erp.second_copy(grant.document, grant.titulo_id))
                if current.barcode != grant.barcode:
                    raise LinkGone(CHANGED_BOLETO)
        except (NotFoundError, RefusedByBusiness):
            # The customer or the título is gone, or the ERP would no longer re-issue it.
            raise LinkGone(CHANGED_BOLETO) from None
        return await _call(erp.inner.render_pdf(grant.titulo_id))

    async def orders(self, tenant_id: str, doc: str, days: int) -> list[Order]:
        document = valid_document(doc)
        erp = await self._registry.erp(tenant_id)
        return await _call(erp.recent_orders(document, days))

    async def stock(self, tenant_id: str, sku: str | None, query: str | None) -> list[Product]:
        erp = await self._registry.erp(tenant_id)
        if sku:
            return [await _call(erp.get_product(sku.strip().upper()))]
        if query and query.strip():
            return await _call(erp.search_products(query.strip()))
        raise BadRequest("informe o código do produto (sku) ou um termo de busca (q)")

    async def place_order(
        self, tenant_id: str, request: OrderRequest, idempotency_key: str
    ) -> DeferredRequest:
        """The order's ledger row: placed (``done``), or kept (``pending``) while the ERP is
        down and placed later with the same key."""
        document = valid_document(request.document)
        normalised = request.model_copy(update={"document": document})
        return await _call(self._orders.place(tenant_id, normalised, idempotency_key))

    async def order_status(self, tenant_id: str, idempotency_key: str) -> DeferredRequest:
        row = await self._orders.find(tenant_id, idempotency_key)
        if row is None:
            raise NotFoundError("nenhum pedido foi enviado com esta Idempotency-Key")
        return row


def receipt_of(row: DeferredRequest) -> OrderReceipt | None:
    if row.status != DeferredStatus.done.value or not row.result:
        return None
    return OrderReceipt.model_validate(row.result)
