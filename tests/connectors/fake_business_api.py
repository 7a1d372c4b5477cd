"""A company's ERP adapter, as :class:`RestErpConnector` expects one: the Business API contract.

An aiohttp.web app on 127.0.0.1 (random port) backed by a :class:`DemoErp`, so the contract
suite's expectations hold over real HTTP. It checks ``Auth-Token`` (401), validates documents
(422 with ``reason``), request shapes (400, as the Business API's validation handler answers)
and the ``Idempotency-Key`` header (8 to 100 characters), and answers RFC 9457 problem details:
404 not found, 409 refused with the pt-BR ``detail``, 422 invalid request, 503 unavailable.

Tests script failures with :meth:`FakeBusinessApi.fail_next` and slow answers with
:meth:`FakeBusinessApi.delay_next`; every request is recorded in ``requests``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from atende.brazil.documents import check_document
from atende.connectors.demo import DemoErp
from atende.connectors.port import (
    ConnectorUnavailable,
    InvalidRequest,
    NotFound,
    OrderRequest,
    OrderRequestItem,
    Refused,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TITLES = {
    400: "bad request",
    401: "unauthorized",
    404: "not found",
    409: "refused",
    422: "invalid request",
    429: "too many requests",
    500: "internal error",
    502: "bad gateway",
    503: "business system unavailable",
}


class _InvalidDocument(Exception):
    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason


class _BadRequest(Exception):
    pass


class _SecondCopyBody(BaseModel):
    doc: str = Field(min_length=1, max_length=32)
    titulo_id: str = Field(min_length=1, max_length=64)


class _OrderBody(BaseModel):
    doc: str = Field(min_length=1, max_length=32)
    items: list[OrderRequestItem] = Field(min_length=1, max_length=50)
    notes: str | None = Field(default=None, max_length=500)


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


def problem(status: int, detail: str, **extensions: object) -> web.Response:
    return web.json_response(
        {
            "type": "about:blank",
            "title": _TITLES.get(status, "error"),
            "status": status,
            "detail": detail,
            **extensions,
        },
        status=status,
        content_type="application/problem+json",
    )


def _document(text: str) -> str:
    check = check_document(text)
    if not check.valid or check.value is None:
        raise _InvalidDocument(
            check.message or "documento inválido", str(check.reason or "invalid")
        )
    return check.value


class FakeBusinessApi:
    """Serves ``erp`` under the Business API contract to whoever holds ``token``."""

    def __init__(self, erp: DemoErp, *, token: str) -> None:
        self.erp = erp
        self.token = token
        self.requests: list[Received] = []
        self._scripted: deque[web.Response] = deque()
        self._delays: deque[float] = deque()
        # Set on close, so a delayed handler never outlives the server.
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- scripting ------------------------------------------------------------------------------

    #: While True, every authenticated request answers 503: an outage that lasts until lifted.
    down = False

    def fail_next(self, status: int, times: int = 1) -> None:
        """The next ``times`` authenticated requests answer ``status`` (a problem body)."""
        for _ in range(times):
            self._scripted.append(problem(status, f"scripted failure {status}"))

    def reply_next(self, status: int, text: str, content_type: str = "application/json") -> None:
        """The next authenticated request answers this raw body, whatever it asked."""
        self._scripted.append(web.Response(status=status, text=text, content_type=content_type))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """The next ``times`` authenticated requests answer only after ``seconds``."""
        self._delays.extend([seconds] * times)

    def calls(self, path: str) -> list[Received]:
        return [item for item in self.requests if item.path == path]

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/v1/clientes", self._customer)
        app.router.add_get("/api/v1/financeiro/titulos", self._titulos)
        app.router.add_post("/api/v1/financeiro/boletos/segunda-via", self._second_copy)
        app.router.add_get("/api/v1/faturamento/pedidos", self._orders)
        app.router.add_get("/api/v1/vendas/estoque", self._stock)
        app.router.add_post("/api/v1/vendas/pedido", self._place_order)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- plumbing -------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                body = await request.json()
        self.requests.append(
            Received(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                json=body,
            )
        )
        if request.headers.get("Auth-Token") != self.token:
            return problem(401, "missing or wrong Auth-Token")
        if self._delays:
            delay = self._delays.popleft()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
        if self.down:
            return problem(503, "scripted outage")
        if self._scripted:
            return self._scripted.popleft()
        try:
            return await handler(request)
        except _InvalidDocument as error:
            return problem(422, error.detail, reason=error.reason)
        except _BadRequest as error:
            return problem(400, f"invalid request: {error}")
        except NotFound as error:
            return problem(404, str(error) or "not found")
        except Refused as error:
            return problem(409, error.reason)
        except InvalidRequest as error:
            return problem(422, str(error))
        except ConnectorUnavailable:
            return problem(503, "o sistema da empresa não respondeu; tente novamente em instantes")

    @staticmethod
    def _query(request: web.Request, name: str, *, max_length: int = 32) -> str:
        value = request.query.get(name)
        if value is None or len(value) > max_length:
            raise _BadRequest(name)
        return value

    @staticmethod
    async def _body(request: web.Request, model: type[BaseModel]) -> Any:
        try:
            return model.model_validate(await request.json())
        except (ValueError, ValidationError) as exc:
            raise _BadRequest("body") from exc

    @staticmethod
    def _ok(payload: Any, status: int = 200) -> web.Response:
        return web.json_response(payload, status=status)

    # -- routes ---------------------------------------------------------------------------------

    async def _customer(self, request: web.Request) -> web.Response:
        document = _document(self._query(request, "doc"))
        customer = await self.erp.find_customer(document)
        return self._ok(customer.model_dump(mode="json"))

    async def _titulos(self, request: web.Request) -> web.Response:
        document = _document(self._query(request, "doc"))
        titulos = await self.erp.open_titulos(document)
        return self._ok([item.model_dump(mode="json") for item in titulos])

    async def _second_copy(self, request: web.Request) -> web.Response:
        body: _SecondCopyBody = await self._body(request, _SecondCopyBody)
        copy = await self.erp.second_copy(_document(body.doc), body.titulo_id)
        return self._ok(copy.model_dump(mode="json"))

    async def _orders(self, request: web.Request) -> web.Response:
        document = _document(self._query(request, "doc"))
        raw_days = request.query.get("dias", "60")
        if not raw_days.isdigit() or not 1 <= int(raw_days) <= 365:
            raise _BadRequest("dias")
        orders = await self.erp.recent_orders(document, int(raw_days))
        return self._ok([order.model_dump(mode="json") for order in orders])

    async def _stock(self, request: web.Request) -> web.Response:
        sku = request.query.get("sku")
        query = request.query.get("q")
        if sku:
            if len(sku) > 40:
                raise _BadRequest("sku")
            product = await self.erp.get_product(sku.strip().upper())
            return self._ok([product.model_dump(mode="json")])
        if query and query.strip():
            if len(query) > 100:
                raise _BadRequest("q")
            found = await self.erp.search_products(query.strip())
            return self._ok([product.model_dump(mode="json") for product in found])
        raise _BadRequest("give a sku or a search query (q)")

    async def _place_order(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        if key is None or not 8 <= len(key) <= 100:
            raise _BadRequest("Idempotency-Key")
        body: _OrderBody = await self._body(request, _OrderBody)
        order = OrderRequest(document=_document(body.doc), items=body.items, notes=body.notes)
        receipt = await self.erp.place_order(order, key)
        return self._ok(receipt.model_dump(mode="json"), status=201)
