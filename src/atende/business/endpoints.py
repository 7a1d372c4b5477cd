"""The Business API (``/api/v1``): the layer between the assistant and the business's systems.

Authenticated per tenant by a service token in the ``Auth-Token`` header. Errors are problem
details; an invalid CPF/CNPJ is a 422 whose ``reason`` names the failed check.
"""

# No `from __future__ import annotations` here: FastAPI must see the local `Tenant` alias.

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.business.errors import ErpUnavailable, RefusedByBusiness
from atende.business.service import BusinessService, receipt_of
from atende.connectors.port import (
    Customer,
    Order,
    OrderReceipt,
    OrderRequest,
    OrderRequestItem,
    Product,
    SecondCopy,
    Titulo,
)
from atende.deferred.models import DeferredRequest
from atende.kit.errors import Unauthorized
from atende.tenancy.tokens import tenant_for_token


class Problem(BaseModel):
    """RFC 9457 problem details: every error of the API has this shape."""

    type: str
    title: str
    status: int
    #: What went wrong, in pt-BR, safe to show (never the offending values: they may be a CPF).
    detail: str
    #: Which check failed, for programs (an invalid document's ``check_digits``, ``length``…).
    reason: str | None = None
    #: A request that fails the schema: each field's location and pydantic's error type.
    errors: list[dict[str, str]] | None = None


# Inline rather than a `model=`: FastAPI files a response model under application/json, while
# errors are served as application/problem+json.
PROBLEM: dict[str, object] = {
    "content": {"application/problem+json": {"schema": Problem.model_json_schema()}}
}
ERRORS: dict[int | str, dict[str, object]] = {
    400: {
        "description": "the request fails the schema (`errors` name the fields) or the "
        "operation's own rules (e.g. neither `sku` nor `q`)",
        **PROBLEM,
    },
    401: {"description": "missing or wrong Auth-Token", **PROBLEM},
    404: {"description": "not found", **PROBLEM},
    422: {"description": "invalid document or request (`reason` says which check)", **PROBLEM},
    502: {"description": "the business's system answered outside its contract", **PROBLEM},
    503: {"description": "the business's system is unavailable", **PROBLEM},
}


class SecondCopyRequest(BaseModel):
    doc: str = Field(min_length=1, max_length=32, description="CPF or CNPJ of the customer")
    titulo_id: str = Field(min_length=1, max_length=64)


class OrderCreate(BaseModel):
    doc: str = Field(min_length=1, max_length=32)
    items: list[OrderRequestItem] = Field(min_length=1, max_length=50)
    notes: str | None = Field(default=None, max_length=500)


class OrderState(BaseModel):
    """What became of an order posted with an ``Idempotency-Key``."""

    idempotency_key: str
    #: ``done``: placed (see ``receipt``). ``pending``: the ERP was down; it is kept and retried
    #: with the same key. ``failed``: the ERP refused it later (``reason``). ``expired``: the ERP
    #: did not come back in time.
    status: Literal["done", "pending", "failed", "expired"]
    receipt: OrderReceipt | None = None
    reason: str | None = None
    attempts: int
    next_attempt_at: datetime | None = None
    created_at: datetime


def _order_state(row: DeferredRequest) -> OrderState:
    pending = row.status == "pending"
    return OrderState(
        idempotency_key=str(row.idempotency_key),
        status=row.status,
        receipt=receipt_of(row),
        reason=(row.result or {}).get("reason") if row.status == "failed" else None,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if pending else None,
        created_at=row.created_at,
    )


def build_router(sessions: async_sessionmaker[AsyncSession], service: BusinessService) -> APIRouter:
    async def tenant(auth_token: Annotated[str | None, Header()] = None) -> str:
        tenant_id = await tenant_for_token(sessions, auth_token)
        if tenant_id is None:
            raise Unauthorized("Auth-Token ausente ou inválido")
        return tenant_id

    Tenant = Annotated[str, Depends(tenant)]
    router = APIRouter(prefix="/api/v1", tags=["business"], responses=ERRORS)

    @router.get("/clientes")
    async def find_customer(tenant_id: Tenant, doc: str) -> Customer:
        """Validate the CPF/CNPJ and find the customer."""
        return await service.customer(tenant_id, doc)

    @router.get("/financeiro/titulos")
    async def open_titulos(tenant_id: Tenant, doc: str) -> list[Titulo]:
        """Open títulos: amount, due date, status and days overdue."""
        return await service.titulos(tenant_id, doc)

    @router.post(
        "/financeiro/boletos/segunda-via", responses={409: {"description": "refused", **PROBLEM}}
    )
    async def second_copy(tenant_id: Tenant, body: SecondCopyRequest) -> SecondCopy:
        """Second copy of a boleto: linha digitável, barcode, PDF link, PIX when available.
        An overdue boleto is re-issued by the connector's rules or refused with a reason (409)."""
        return await service.second_copy(tenant_id, body.doc, body.titulo_id)

    @router.get(
        "/financeiro/boletos/pdf/{seal}",
        response_class=Response,
        responses={
            200: {"content": {"application/pdf": {}}},
            410: {"description": "the link expired or its boleto changed", **PROBLEM},
        },
    )
    async def boleto_pdf(seal: Annotated[str, Path(max_length=1000)]) -> Response:
        """The boleto's PDF behind a sealed link from a second copy: no token needed (the link
        itself is the credential, valid for a day, for that customer's open título only)."""
        pdf = await service.boleto_pdf(seal)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": 'inline; filename="boleto.pdf"'},
        )

    @router.get("/faturamento/pedidos")
    async def recent_orders(
        tenant_id: Tenant, doc: str, dias: Annotated[int, Query(ge=1, le=365)] = 60
    ) -> list[Order]:
        """Orders of the last ``dias`` days."""
        return await service.orders(tenant_id, doc, dias)

    @router.get("/vendas/estoque")
    async def stock(
        tenant_id: Tenant,
        sku: Annotated[str | None, Query(max_length=40)] = None,
        q: Annotated[str | None, Query(max_length=100)] = None,
    ) -> list[Product]:
        """Availability and price, by SKU or by a name search (``q``)."""
        return await service.stock(tenant_id, sku, q)

    @router.post(
        "/vendas/pedido",
        status_code=201,
        responses={
            202: {"model": OrderState, "description": "the ERP is down: the order is kept"},
            409: {"description": "refused by the business's rules", **PROBLEM},
        },
    )
    async def place_order(
        tenant_id: Tenant,
        body: OrderCreate,
        idempotency_key: Annotated[str, Header(min_length=8, max_length=100)],
        response: Response,
    ) -> OrderReceipt | OrderState:
        """Create an order. The same ``Idempotency-Key`` never creates a second order.

        201 with the receipt when the ERP took it. When the ERP is down the order is kept
        durably and placed later with the same key: 202 with its state and a ``Location`` to
        follow it (``GET /api/v1/vendas/pedido/{key}``). Posting the same key again with the same
        order answers what became of it; with another order, 422 (``idempotency_key_reused``,
        ``fields`` naming what differs)."""
        request = OrderRequest(document=body.doc, items=body.items, notes=body.notes)
        row = await service.place_order(tenant_id, request, idempotency_key)
        receipt = receipt_of(row)
        if receipt is not None:
            return receipt
        if row.status == "failed":
            raise RefusedByBusiness(str((row.result or {}).get("reason") or "pedido recusado"))
        if row.status == "expired":
            raise ErpUnavailable("o sistema da empresa não voltou a tempo; o pedido expirou")
        response.status_code = 202
        response.headers["Location"] = f"/api/v1/vendas/pedido/{idempotency_key}"
        return _order_state(row)

    @router.get("/vendas/pedido/{idempotency_key}", responses={202: {"model": OrderState}})
    async def order_state(
        tenant_id: Tenant,
        idempotency_key: Annotated[str, Path(min_length=8, max_length=100)],
        response: Response,
    ) -> OrderState:
        """What became of an order posted with this ``Idempotency-Key`` (202 while pending)."""
        row = await service.order_status(tenant_id, idempotency_key)
        if row.status == "pending":
            response.status_code = 202
        return _order_state(row)

    return router
