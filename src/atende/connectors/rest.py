"""An :class:`ErpConnector` that speaks the Business API's own contract to a company's adapter.

Any ERP can be plugged in by putting a small service in front of it that implements the same
``/api/v1`` contract the Business API publishes (see :mod:`atende.business.endpoints`): the same
paths, query parameters, ``Auth-Token`` header, JSON bodies (the port's models) and RFC 9457
problem details. This connector is the client side of that contract.

Answers are mapped back onto the port's errors:

* 2xx: the body is parsed with the port's models; a body that does not fit is a contract
  violation, a plain :class:`ConnectorError` (retrying would get the same body);
* 404 → :class:`NotFound`; 409 → :class:`Refused` with the adapter's pt-BR ``detail``;
  400 and 422 → :class:`InvalidRequest`;
* a 404 that is not the contract's problem details (an HTML page, an empty body, a framework's
  bare ``{"detail": "Not Found"}``) means the *route* does not exist: the base URL is wrong, not
  the record missing, so it is :class:`AdapterMisconfigured`, never :class:`NotFound`;
* 401/403 → :class:`AdapterMisconfigured` (``unauthorized``): a wrong token, not worth retrying;
* 408, 429, 5xx, timeouts and connection errors → :class:`ConnectorUnavailable`.

A misconfiguration is logged (method, path and status: no documents) and reported to the
``on_misconfigured`` hook, through which the registry tells the tenant's admins; the customer
is never told "not found" for it. A ``base_url`` that already ends in the contract's ``/api/v1``
prefix (the commonest slip: pasting the API's address) is accepted as the adapter's root.

There are no retries here: wrap the connector in
:class:`~atende.connectors.resilience.ResilientConnector`, which owns timeouts per attempt,
retries and the circuit breaker. Nothing here logs a document, a token or a request body.

Gaps of the wire contract, and how they are bridged:

* it has no "one order" route, so :meth:`RestErpConnector.get_order` looks the order up among
  the customer's orders of the last 365 days (the longest window the contract allows), with the
  shared rule of :mod:`atende.connectors.order_numbers` (``5001`` finds ``PED-5001``);
* ``dias`` is capped at 365 on the wire, so a longer window is answered with 365 days;
* ``?q=`` takes no limit, so ``limit`` is applied to what the adapter returns;
* ``Idempotency-Key`` must be 8 to 100 printable ASCII characters; other keys travel as their
  SHA-256 digest, which keeps "same key, same order" without widening the contract.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import aiohttp
from pydantic import BaseModel, TypeAdapter, ValidationError

from atende.brazil.documents import check_document
from atende.connectors.order_numbers import names_order
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
from atende.connectors.wire import json_or_none, parse_answer
from atende.kit.errors import AtendeError
from atende.kit.logging import get_logger

__all__ = ["AdapterMisconfigured", "RestErpConnector"]

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)

_MAX_DAYS = 365
_MAX_SEARCH_LIMIT = 100
_KEY_MIN, _KEY_MAX = 8, 100
_TITULOS = TypeAdapter(list[Titulo])
_ORDERS = TypeAdapter(list[Order])
_PRODUCTS = TypeAdapter(list[Product])
_REFUSED = "O sistema da empresa recusou o pedido."
_PREFIX = "/api/v1"
#: What Starlette/FastAPI answer for a route they do not have (a JSON body, but not the
#: contract's problem details for a missing record).
_FRAMEWORK_NOT_FOUND = "not found"


class AdapterMisconfigured(ConnectorError, AtendeError):
    """The adapter cannot be used as configured (wrong base URL, wrong token): the business's
    admins must fix the tenant's settings. Not a business answer (never "not found") and not
    transient (retrying gets the same answer). Also an :class:`AtendeError`, so the Business API
    answers it with its status and the offline engine offers the customer a person."""

    status_code = 502
    title = "bad gateway"

    def __init__(self, reason: str, *, method: str, path: str, http_status: int) -> None:
        super().__init__(
            "o sistema da empresa está mal configurado no Atende; os administradores foram avisados"
        )
        #: ``wrong_route`` or ``unauthorized``.
        self.reason = reason
        self.method = method
        self.path = path
        self.http_status = http_status

    def __str__(self) -> str:
        return self.reason


MisconfigurationHook = Callable[[AdapterMisconfigured], Awaitable[None]]


class RestErpConnector:
    """Client of a company's ERP adapter that implements the Business API contract.

    One instance per adapter (tenant) for the life of the process; call :meth:`aclose` when done.
    """

    name = "rest"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 5.0,
        max_connections: int = 100,
        on_misconfigured: MisconfigurationHook | None = None,
    ) -> None:
        self._base_url = adapter_root(base_url)
        self._on_misconfigured = on_misconfigured
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # aiohttp rather than httpx: one shared httpx.AsyncClient collapses under hundreds of
        # concurrent requests (pool timeouts and stalls, encode/httpx#3215), and every ongoing
        # conversation of a tenant goes through this one client. Created on first use because a
        # session binds to the running loop; no await separates the check from the assignment,
        # so concurrent first calls share one session.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=self._timeout,
                headers={"Auth-Token": self._token, "Accept": "application/json"},
                raise_for_status=False,
            )
        return self._session

    async def aclose(self) -> None:
        """Close the pool. The connector stays usable: a later call opens a new one."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    # -- the port -------------------------------------------------------------------------------

    async def find_customer(self, document: str) -> Customer:
        body = await self._get("/clientes", {"doc": _document(document)})
        return _parse_model(Customer, body)

    async def open_titulos(self, document: str) -> list[Titulo]:
        body = await self._get("/financeiro/titulos", {"doc": _document(document)})
        return _parse(_TITULOS, body)

    async def second_copy(self, document: str, titulo_id: str) -> SecondCopy:
        body = await self._request(
            "POST",
            "/financeiro/boletos/segunda-via",
            json_body={"doc": _document(document), "titulo_id": titulo_id.strip()},
        )
        return _parse_model(SecondCopy, body)

    async def recent_orders(self, document: str, days: int = 60) -> list[Order]:
        if days < 1:
            raise InvalidRequest("O período deve ser de pelo menos 1 dia.")
        params = {"doc": _document(document), "dias": str(min(days, _MAX_DAYS))}
        return _parse(_ORDERS, await self._get("/faturamento/pedidos", params))

    async def get_order(self, document: str, order_id: str) -> Order:
        for order in await self.recent_orders(document, _MAX_DAYS):
            if names_order(order_id, order.id):
                return order
        raise NotFound("Pedido não encontrado.")

    async def get_product(self, sku: str) -> Product:
        sku = sku.strip()
        if not sku:
            raise InvalidRequest("Informe o código (SKU) do produto.")
        products = _parse(_PRODUCTS, await self._get("/vendas/estoque", {"sku": sku}))
        if not products:
            raise NotFound("Produto não encontrado.")
        return products[0]

    async def search_products(self, query: str, limit: int = 10) -> list[Product]:
        if not 1 <= limit <= _MAX_SEARCH_LIMIT:
            raise InvalidRequest(f"O limite deve estar entre 1 e {_MAX_SEARCH_LIMIT}.")
        query = query.strip()
        if not query:
            # The contract answers 400 to an empty q; "nothing matches nothing" is the port's.
            return []
        products = _parse(_PRODUCTS, await self._get("/vendas/estoque", {"q": query}))
        return products[:limit]

    async def place_order(self, request: OrderRequest, idempotency_key: str) -> OrderReceipt:
        key = idempotency_key.strip()
        if not key:
            raise InvalidRequest("Chave de idempotência inválida.")
        body = await self._request(
            "POST",
            "/vendas/pedido",
            json_body={
                "doc": _document(request.document),
                "items": [item.model_dump() for item in request.items],
                "notes": request.notes,
            },
            headers={"Idempotency-Key": _wire_key(key)},
        )
        return _parse_model(OrderReceipt, body)

    # -- HTTP -----------------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        return await self._request("GET", path, params=params)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        url = f"{self._base_url}{_PREFIX}{path}"
        session = self._get_session()
        try:
            async with session.request(
                method, url, params=params, json=json_body, headers=headers
            ) as response:
                status = response.status
                raw = await response.read()
        except TimeoutError as exc:
            # aiohttp's connect and read timeouts are TimeoutErrors too (ServerTimeoutError).
            raise ConnectorUnavailable("timeout") from exc
        except aiohttp.InvalidURL as exc:
            raise ConnectorError("invalid adapter URL") from exc
        except aiohttp.ClientError as exc:
            # The type only: aiohttp's messages quote the URL, and the query carries documents.
            raise ConnectorUnavailable(f"adapter unreachable: {type(exc).__name__}") from exc
        body = json_or_none(raw)
        if 200 <= status < 300:
            if body is None:
                raise ConnectorError(f"adapter answered {status} without a JSON body")
            return body
        try:
            _raise_for(status, body, method, path)
        except AdapterMisconfigured as error:
            # Path and status only: the query string and the body carry documents.
            log.error(
                "erp adapter misconfigured",
                reason=error.reason,
                method=method,
                path=path,
                http_status=status,
            )
            if self._on_misconfigured is not None:
                await self._on_misconfigured(error)
            raise


def adapter_root(base_url: str) -> str:
    """The adapter's root URL, to which the contract's ``/api/v1/...`` paths are appended."""
    root = base_url.strip().rstrip("/")
    if root.lower().endswith(_PREFIX):
        root = root[: -len(_PREFIX)].rstrip("/")
    return root


def _raise_for(status: int, body: Any, method: str, path: str) -> NoReturn:
    detail = _detail(body)
    if status == 404:
        if not _is_record_missing(body):
            raise AdapterMisconfigured("wrong_route", method=method, path=path, http_status=status)
        raise NotFound(detail or "Não encontrado.")
    if status == 409:
        raise Refused(detail or _REFUSED)
    if status in {400, 422}:
        raise InvalidRequest(detail or "Requisição inválida.")
    if status in {401, 403}:
        raise AdapterMisconfigured("unauthorized", method=method, path=path, http_status=status)
    # Path and status only: the query string and the body carry documents.
    log.warning("erp adapter error", method=method, path=path, http_status=status)
    if status in {408, 429} or status >= 500:
        raise ConnectorUnavailable(f"adapter answered {status}")
    raise ConnectorError(f"adapter answered {status}")


def _detail(body: Any) -> str | None:
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str) and detail.strip():
            return detail.strip()
    return None


def _is_record_missing(body: Any) -> bool:
    """A 404 from a route that exists says so in the contract's problem details, with a
    ``detail``; a route that does not exist answers whatever the web server or framework says
    (HTML, nothing, ``{"detail": "Not Found"}``)."""
    detail = _detail(body)
    if detail is None:
        return False
    assert isinstance(body, dict)  # _detail found one
    bare = set(body) == {"detail"} and detail.casefold() == _FRAMEWORK_NOT_FOUND
    # Atende's own Business API says so when it has no such route.
    return not bare and body.get("reason") != "no_such_route"


def _parse_model(model: type[M], body: Any) -> M:
    return parse_answer(model, body, who="adapter")


def _parse(adapter: TypeAdapter[list[M]], body: Any) -> list[M]:
    try:
        return adapter.validate_python(body)
    except ValidationError as exc:
        raise ConnectorError(
            f"adapter answered a malformed list: {exc.error_count()} error(s)"
        ) from None


def _document(text: str) -> str:
    # Validated here, so a typo costs no round trip and the adapter only ever sees the
    # normalised form (digits, or upper-case alphanumerics for the 2026 CNPJ).
    check = check_document(text)
    if not check.valid or check.value is None:
        raise InvalidRequest(check.message or "Documento inválido.")
    return check.value


def _wire_key(key: str) -> str:
    if _KEY_MIN <= len(key) <= _KEY_MAX and key.isascii() and key.isprintable():
        return key
    return "sha256-" + hashlib.sha256(key.encode()).hexdigest()
