from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from atende.connectors.demo import DemoErp, business_today, seed_demo_erp
from atende.connectors.demo.billing import TOO_LATE_TO_REISSUE
from atende.connectors.demo.seed import (
    AVAILABLE_SKU,
    MARIA_CPF,
    MARIA_OLD_ORDER,
    PADARIA_CNPJ,
    PADARIA_TOO_LATE_TITULO,
)
from atende.connectors.port import (
    ConnectorError,
    ConnectorUnavailable,
    ErpConnector,
    InvalidRequest,
    NotFound,
    OrderRequest,
    OrderRequestItem,
    Refused,
)
from atende.connectors.resilience import ResilientConnector
from atende.connectors.rest import AdapterMisconfigured, RestErpConnector
from tests.connectors.contract import ErpConnectorContract
from tests.connectors.fake_business_api import FakeBusinessApi

TODAY = business_today()
TOKEN = "adapter-token-0123456789"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rest_erp") / "demo_erp.db"
    asyncio.run(seed_demo_erp(sqlite_url(path), today=TODAY))
    return path


@pytest.fixture
def today() -> date:
    return TODAY


@pytest.fixture
async def fake(seeded_template: Path, tmp_path: Path) -> AsyncIterator[FakeBusinessApi]:
    path = tmp_path / "demo_erp.db"
    shutil.copy(seeded_template, path)
    erp = DemoErp(sqlite_url(path), today=lambda: TODAY)
    server = FakeBusinessApi(erp, token=TOKEN)
    await server.start()
    yield server
    await server.close()
    await erp.aclose()


@pytest.fixture
async def rest(fake: FakeBusinessApi) -> AsyncIterator[RestErpConnector]:
    connector = RestErpConnector(fake.base_url, TOKEN, timeout=2.0)
    yield connector
    await connector.aclose()


def resilient(inner: ErpConnector) -> ResilientConnector:
    return ResilientConnector(
        inner, tenant_id="acme", backoff_max=0.001, registry=CollectorRegistry()
    )


class TestRestErpContract(ErpConnectorContract):
    @pytest.fixture
    def connector(self, rest: RestErpConnector) -> ErpConnector:
        return rest


class TestResilientRestErpContract(ErpConnectorContract):
    @pytest.fixture
    def connector(self, rest: RestErpConnector) -> ErpConnector:
        return resilient(rest)


# -- the wire -----------------------------------------------------------------------------------


async def test_every_request_carries_the_token_and_a_normalised_document(
    rest: RestErpConnector, fake: FakeBusinessApi
) -> None:
    await rest.find_customer("529.982.247-25")

    (call,) = fake.calls("/api/v1/clientes")
    assert call.headers["Auth-Token"] == TOKEN
    assert call.query == {"doc": MARIA_CPF}


async def test_order_is_posted_with_the_idempotency_key_and_the_contracts_body(
    rest: RestErpConnector, fake: FakeBusinessApi
) -> None:
    request = OrderRequest(
        document="529.982.247-25",
        items=[OrderRequestItem(sku=AVAILABLE_SKU, quantity=1)],
        notes="Entregar na portaria.",
    )

    receipt = await rest.place_order(request, "pedido-whatsapp-0042")

    (call,) = fake.calls("/api/v1/vendas/pedido")
    assert call.headers["Idempotency-Key"] == "pedido-whatsapp-0042"
    assert call.json == {
        "doc": MARIA_CPF,
        "items": [{"sku": AVAILABLE_SKU, "quantity": 1}],
        "notes": "Entregar na portaria.",
    }
    assert receipt.order_id.startswith("PED-")


async def test_a_short_idempotency_key_travels_as_a_stable_digest(
    rest: RestErpConnector, fake: FakeBusinessApi
) -> None:
    request = OrderRequest(
        document=MARIA_CPF, items=[OrderRequestItem(sku=AVAILABLE_SKU, quantity=1)]
    )

    first = await rest.place_order(request, "k1")
    second = await rest.place_order(request, "k1")

    keys = {call.headers["Idempotency-Key"] for call in fake.calls("/api/v1/vendas/pedido")}
    assert len(keys) == 1
    assert 8 <= len(keys.pop()) <= 100
    assert first == second


async def test_malformed_document_is_refused_before_any_request(
    rest: RestErpConnector, fake: FakeBusinessApi
) -> None:
    with pytest.raises(InvalidRequest, match="dígitos verificadores"):
        await rest.find_customer("529.982.247-26")

    assert fake.requests == []


async def test_get_order_finds_an_order_older_than_the_default_window(
    rest: RestErpConnector, fake: FakeBusinessApi
) -> None:
    order = await rest.get_order(MARIA_CPF, MARIA_OLD_ORDER.lower())

    assert order.id == MARIA_OLD_ORDER
    assert fake.calls("/api/v1/faturamento/pedidos")[0].query["dias"] == "365"


async def test_a_window_longer_than_the_contract_allows_is_capped(
    rest: RestErpConnector, fake: FakeBusinessApi
) -> None:
    orders = await rest.recent_orders(MARIA_CPF, days=1000)

    assert MARIA_OLD_ORDER in {order.id for order in orders}
    assert fake.calls("/api/v1/faturamento/pedidos")[0].query["dias"] == "365"


# -- error mapping ------------------------------------------------------------------------------


async def test_wrong_token_is_a_misconfiguration_not_worth_retrying(
    fake: FakeBusinessApi,
) -> None:
    connector = RestErpConnector(fake.base_url, "wrong-token")
    try:
        with pytest.raises(AdapterMisconfigured) as raised:
            await resilient(connector).find_customer(MARIA_CPF)
    finally:
        await connector.aclose()

    assert raised.value.reason == "unauthorized"
    assert str(raised.value) == "unauthorized"
    assert len(fake.calls("/api/v1/clientes")) == 1


@pytest.mark.parametrize("suffix", ["/api/v1", "/api/v1/", "/API/V1"])
async def test_a_base_url_that_already_ends_in_the_api_prefix_is_the_adapters_root(
    fake: FakeBusinessApi, suffix: str
) -> None:
    connector = RestErpConnector(fake.base_url + suffix, TOKEN)
    try:
        customer = await connector.find_customer(MARIA_CPF)
    finally:
        await connector.aclose()

    assert customer.document == MARIA_CPF
    assert [call.path for call in fake.requests] == ["/api/v1/clientes"]


async def test_a_base_url_that_misses_the_adapter_is_a_misconfiguration_not_a_missing_customer(
    fake: FakeBusinessApi,
) -> None:
    told: list[AdapterMisconfigured] = []

    async def tell(error: AdapterMisconfigured) -> None:
        told.append(error)

    # The adapter lives at the root: under /erp every route is the web server's own 404.
    connector = RestErpConnector(f"{fake.base_url}/erp", TOKEN, on_misconfigured=tell)
    try:
        with capture_logs() as logs, pytest.raises(AdapterMisconfigured) as raised:
            await resilient(connector).find_customer(MARIA_CPF)
    finally:
        await connector.aclose()

    assert not isinstance(raised.value, NotFound)
    assert raised.value.reason == "wrong_route"
    assert [(e.method, e.path, e.http_status) for e in told] == [("GET", "/clientes", 404)]
    assert len(fake.calls("/erp/api/v1/clientes")) == 1  # not retried
    (logged,) = [line for line in logs if line["event"] == "erp adapter misconfigured"]
    assert logged["path"] == "/clientes"
    assert MARIA_CPF not in repr(logs)


@pytest.mark.parametrize(
    ("text", "content_type"),
    [
        # What Starlette and FastAPI answer for a route they do not have.
        ('{"detail": "Not Found"}', "application/json"),
        ("<html><body><h1>404 Not Found</h1></body></html>", "text/html"),
        ("", "text/plain"),
        # Atende's own Business API, for a route it does not have.
        (
            '{"type": "about:blank", "title": "not found", "status": 404, '
            '"detail": "esta rota não existe na API", "reason": "no_such_route"}',
            "application/problem+json",
        ),
        # Spring Boot's.
        (
            '{"timestamp": "2026-12-07T10:00:00Z", "status": 404, "error": "Not Found"}',
            "application/json",
        ),
    ],
)
async def test_a_404_that_is_not_the_contracts_problem_details_is_a_misconfiguration(
    rest: RestErpConnector, fake: FakeBusinessApi, text: str, content_type: str
) -> None:
    fake.reply_next(404, text, content_type)

    with pytest.raises(AdapterMisconfigured):
        await rest.find_customer(MARIA_CPF)


async def test_a_404_with_the_contracts_problem_details_is_a_missing_record(
    rest: RestErpConnector, fake: FakeBusinessApi
) -> None:
    fake.reply_next(
        404,
        '{"type": "about:blank", "title": "not found", "status": 404, '
        '"detail": "cliente não encontrado"}',
        "application/problem+json",
    )

    with pytest.raises(NotFound, match="cliente não encontrado"):
        await rest.find_customer(MARIA_CPF)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_throttling_and_server_errors_are_unavailable(
    rest: RestErpConnector, fake: FakeBusinessApi, status: int
) -> None:
    fake.fail_next(status)

    with pytest.raises(ConnectorUnavailable):
        await rest.find_customer(MARIA_CPF)


async def test_an_answer_slower_than_the_timeout_is_unavailable(fake: FakeBusinessApi) -> None:
    connector = RestErpConnector(fake.base_url, TOKEN, timeout=0.2)
    fake.delay_next(30.0)
    try:
        with pytest.raises(ConnectorUnavailable, match="timeout"):
            await connector.get_product(AVAILABLE_SKU)
    finally:
        await connector.aclose()


async def test_a_closed_port_is_unavailable(fake: FakeBusinessApi) -> None:
    base_url = fake.base_url
    await fake.close()
    connector = RestErpConnector(base_url, TOKEN, timeout=1.0)
    try:
        with pytest.raises(ConnectorUnavailable, match="unreachable"):
            await connector.get_product(AVAILABLE_SKU)
    finally:
        await connector.aclose()


async def test_refusal_passes_through_with_the_pt_br_reason(
    rest: RestErpConnector, fake: FakeBusinessApi
) -> None:
    with pytest.raises(Refused) as refused:
        await resilient(rest).second_copy(PADARIA_CNPJ, PADARIA_TOO_LATE_TITULO)

    assert refused.value.reason == TOO_LATE_TO_REISSUE
    assert len(fake.calls("/api/v1/financeiro/boletos/segunda-via")) == 1


async def test_unknown_sku_in_an_order_is_an_invalid_request_from_a_422(
    rest: RestErpConnector,
) -> None:
    request = OrderRequest(document=MARIA_CPF, items=[OrderRequestItem(sku="XYZ-999", quantity=1)])

    with pytest.raises(InvalidRequest, match="XYZ-999"):
        await rest.place_order(request, "unknown-sku-order")


async def test_resilient_connector_retries_a_transient_503_and_succeeds(
    rest: RestErpConnector, fake: FakeBusinessApi
) -> None:
    fake.fail_next(503)

    customer = await resilient(rest).find_customer(MARIA_CPF)

    assert customer.document == MARIA_CPF
    assert len(fake.calls("/api/v1/clientes")) == 2


async def test_resilient_connector_retries_a_timeout_and_succeeds(
    fake: FakeBusinessApi,
) -> None:
    connector = RestErpConnector(fake.base_url, TOKEN, timeout=0.2)
    fake.delay_next(30.0)
    try:
        product = await resilient(connector).get_product(AVAILABLE_SKU)
    finally:
        await connector.aclose()

    assert product.sku == AVAILABLE_SKU


async def test_resilient_connector_gives_up_after_its_attempts(
    rest: RestErpConnector, fake: FakeBusinessApi
) -> None:
    fake.fail_next(503, times=3)

    with pytest.raises(ConnectorUnavailable):
        await resilient(rest).find_customer(MARIA_CPF)

    assert len(fake.calls("/api/v1/clientes")) == 3


async def test_not_found_is_not_retried(rest: RestErpConnector, fake: FakeBusinessApi) -> None:
    with pytest.raises(NotFound):
        await resilient(rest).get_product("NAO-EXISTE")

    assert len(fake.calls("/api/v1/vendas/estoque")) == 1


@pytest.mark.parametrize(
    ("text", "content_type"),
    [
        ('{"sku": "CAM-001"}', "application/json"),
        ('[{"sku": "CAM-001", "name": "Camiseta", "price_cents": -1}]', "application/json"),
        ("<html>ok</html>", "text/html"),
    ],
)
async def test_a_2xx_body_that_breaks_the_contract_is_a_connector_error(
    rest: RestErpConnector, fake: FakeBusinessApi, text: str, content_type: str
) -> None:
    fake.reply_next(200, text, content_type)

    with pytest.raises(ConnectorError) as raised:
        await rest.get_product(AVAILABLE_SKU)

    # Not retryable, and not a business answer either.
    assert type(raised.value) is ConnectorError


async def test_an_empty_search_result_is_an_empty_list_and_a_missing_sku_is_not_found(
    rest: RestErpConnector, fake: FakeBusinessApi
) -> None:
    fake.reply_next(200, "[]")

    with pytest.raises(NotFound):
        await rest.get_product(AVAILABLE_SKU)
    assert await rest.search_products("   ") == []


# -- the fake itself ----------------------------------------------------------------------------


async def test_fake_answers_an_invalid_document_with_a_422_naming_the_check(
    fake: FakeBusinessApi,
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{fake.base_url}/api/v1/clientes",
            params={"doc": "529.982.247-26"},
            headers={"Auth-Token": TOKEN},
        ) as response,
    ):
        body = await response.json(content_type=None)

    assert response.status == 422
    assert response.content_type == "application/problem+json"
    assert body["reason"] == "check_digits"
    assert body["status"] == 422
