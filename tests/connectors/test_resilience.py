from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any, TypeVar, cast

import pytest
from prometheus_client import CollectorRegistry

from atende.connectors.port import (
    ConnectorError,
    ConnectorUnavailable,
    Customer,
    InvalidRequest,
    NotFound,
    Order,
    OrderItem,
    OrderReceipt,
    OrderRequest,
    OrderRequestItem,
    Product,
    Refused,
    SecondCopy,
    Titulo,
)
from atende.connectors.resilience import CircuitOpen, ResilientConnector, connector_metrics
from atende.kit.breaker import BreakerState, CircuitBreaker

CUSTOMER = Customer(id="c1", document="52998224725", kind="cpf", name="Maria")
TITULO = Titulo(
    id="t1",
    document_number="NF 1",
    description="Parcela 1/1",
    amount_cents=1000,
    due_date=date(2030, 1, 1),
    status="open",
    days_overdue=0,
)
SECOND_COPY = SecondCopy(
    titulo_id="t1",
    amount_cents=1000,
    due_date=date(2030, 1, 1),
    linha_digitavel="1" * 47,
    barcode="1" * 44,
)
ORDER = Order(
    id="o1",
    created_at=datetime(2030, 1, 1, tzinfo=UTC),
    status="processing",
    items=[OrderItem(sku="CAM-001", name="Camiseta", quantity=1, unit_price_cents=1000)],
    total_cents=1000,
)
PRODUCT = Product(sku="CAM-001", name="Camiseta", price_cents=1000, stock=3, available=True)
RECEIPT = OrderReceipt(order_id="o1", status="created", total_cents=1000, message="Pedido criado.")
REQUEST = OrderRequest(document="52998224725", items=[OrderRequestItem(sku="CAM-001", quantity=1)])


T = TypeVar("T")


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The step answers with the method's ordinary result.
OK = _Marker("OK")
#: The step never answers (until cancelled), so only a timeout or a cancellation ends it.
HANG = _Marker("HANG")


class ScriptedErp:
    """Plays ``steps`` one per call (exceptions are raised), then ``then`` for every later call."""

    name = "fake"

    def __init__(self, *steps: object, then: object = OK) -> None:
        self.steps = list(steps)
        self.then = then
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.entered = asyncio.Event()

    async def _play(self, method: str, args: tuple[Any, ...], result: T) -> T:
        self.calls.append((method, args))
        step = self.steps.pop(0) if self.steps else self.then
        if step is HANG:
            self.entered.set()
            await asyncio.Event().wait()
        if isinstance(step, BaseException):
            raise step
        return result if step is OK else cast(T, step)

    async def find_customer(self, document: str) -> Customer:
        return await self._play("find_customer", (document,), CUSTOMER)

    async def open_titulos(self, document: str) -> list[Titulo]:
        return await self._play("open_titulos", (document,), [TITULO])

    async def second_copy(self, document: str, titulo_id: str) -> SecondCopy:
        return await self._play("second_copy", (document, titulo_id), SECOND_COPY)

    async def recent_orders(self, document: str, days: int = 60) -> list[Order]:
        return await self._play("recent_orders", (document, days), [ORDER])

    async def get_order(self, document: str, order_id: str) -> Order:
        return await self._play("get_order", (document, order_id), ORDER)

    async def get_product(self, sku: str) -> Product:
        return await self._play("get_product", (sku,), PRODUCT)

    async def search_products(self, query: str, limit: int = 10) -> list[Product]:
        return await self._play("search_products", (query, limit), [PRODUCT])

    async def place_order(self, request: OrderRequest, idempotency_key: str) -> OrderReceipt:
        return await self._play("place_order", (request, idempotency_key), RECEIPT)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_breaker(clock: FakeClock, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker("erp:fake:t1", failure_threshold=threshold, reset_seconds=30, clock=clock)


def wrap(
    erp: ScriptedErp,
    registry: CollectorRegistry,
    *,
    breaker: CircuitBreaker | None = None,
    attempts: int = 3,
    timeout: float = 1.0,
) -> ResilientConnector:
    return ResilientConnector(
        erp,
        tenant_id="t1",
        timeout=timeout,
        attempts=attempts,
        backoff_max=0.001,
        breaker=breaker,
        registry=registry,
    )


def calls(registry: CollectorRegistry, method: str, outcome: str) -> float:
    value = registry.get_sample_value(
        "atende_connector_calls_total",
        {"connector": "fake", "method": method, "outcome": outcome},
    )
    return value or 0.0


def attempts_observed(registry: CollectorRegistry, method: str) -> float:
    value = registry.get_sample_value(
        "atende_connector_latency_seconds_count", {"connector": "fake", "method": method}
    )
    return value or 0.0


def breaker_gauge(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value(
        "atende_connector_breaker_open", {"connector": "fake", "tenant": "t1"}
    )


async def test_retries_unavailable_then_returns_the_answer(registry: CollectorRegistry) -> None:
    erp = ScriptedErp(ConnectorUnavailable("HTTP 503"), ConnectorUnavailable("reset"))
    connector = wrap(erp, registry, attempts=3)

    assert await connector.find_customer("52998224725") == CUSTOMER

    assert len(erp.calls) == 3
    assert calls(registry, "find_customer", "ok") == 1
    assert calls(registry, "find_customer", "unavailable") == 0
    assert attempts_observed(registry, "find_customer") == 3


async def test_gives_up_after_the_configured_attempts(registry: CollectorRegistry) -> None:
    erp = ScriptedErp(then=ConnectorUnavailable("HTTP 502"))
    connector = wrap(erp, registry, attempts=3)

    with pytest.raises(ConnectorUnavailable, match="HTTP 502"):
        await connector.open_titulos("52998224725")

    assert len(erp.calls) == 3
    assert calls(registry, "open_titulos", "unavailable") == 1


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (NotFound("no such customer"), "not_found"),
        (Refused("Boleto vencido há mais de 59 dias."), "refused"),
        (InvalidRequest("bad sku"), "refused"),
    ],
)
async def test_business_errors_pass_through_without_retry_or_breaker_failure(
    registry: CollectorRegistry, clock: FakeClock, error: ConnectorError, outcome: str
) -> None:
    erp = ScriptedErp(then=error)
    breaker = make_breaker(clock, threshold=1)
    connector = wrap(erp, registry, breaker=breaker, attempts=3)

    for _ in range(3):
        with pytest.raises(type(error)) as raised:
            await connector.get_product("CAM-001")
        assert raised.value is error

    assert len(erp.calls) == 3  # one attempt per call
    assert calls(registry, "get_product", outcome) == 3
    assert breaker.state is BreakerState.closed
    assert breaker_gauge(registry) == 0


async def test_refused_keeps_its_reason(registry: CollectorRegistry) -> None:
    reason = "Boletos vencidos há mais de 59 dias não podem ser reemitidos; fale com o financeiro."
    connector = wrap(ScriptedErp(Refused(reason)), registry)

    with pytest.raises(Refused) as raised:
        await connector.second_copy("52998224725", "t1")

    assert raised.value.reason == reason


async def test_business_answer_resets_the_failure_count(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    erp = ScriptedErp(ConnectorUnavailable("x"), NotFound("x"), ConnectorUnavailable("x"))
    breaker = make_breaker(clock, threshold=2)
    connector = wrap(erp, registry, breaker=breaker, attempts=1)

    for error in (ConnectorUnavailable, NotFound, ConnectorUnavailable):
        with pytest.raises(error):
            await connector.find_customer("52998224725")

    assert breaker.state is BreakerState.closed


async def test_timeout_becomes_unavailable_and_is_retried(registry: CollectorRegistry) -> None:
    erp = ScriptedErp(HANG)
    connector = wrap(erp, registry, timeout=0.01, attempts=2)

    assert await connector.get_order("52998224725", "o1") == ORDER

    assert len(erp.calls) == 2
    assert calls(registry, "get_order", "ok") == 1


async def test_timeout_on_the_last_attempt_raises_unavailable(registry: CollectorRegistry) -> None:
    connector = wrap(ScriptedErp(then=HANG), registry, timeout=0.01, attempts=1)

    with pytest.raises(ConnectorUnavailable, match="timeout") as raised:
        await connector.get_order("52998224725", "o1")

    assert isinstance(raised.value.__cause__, TimeoutError)
    assert calls(registry, "get_order", "unavailable") == 1


async def test_breaker_opens_after_threshold_and_refuses_without_calling(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    erp = ScriptedErp(then=ConnectorUnavailable("HTTP 503"))
    breaker = make_breaker(clock, threshold=3)
    connector = wrap(erp, registry, breaker=breaker, attempts=1)

    for _ in range(3):
        with pytest.raises(ConnectorUnavailable, match="HTTP 503"):
            await connector.get_product("CAM-001")
    assert connector.breaker.state is BreakerState.open
    assert breaker_gauge(registry) == 1

    with pytest.raises(ConnectorUnavailable, match="circuit open") as raised:
        await connector.get_product("CAM-001")

    assert isinstance(raised.value, CircuitOpen)
    assert len(erp.calls) == 3
    assert breaker.opened_count == 1
    assert calls(registry, "get_product", "unavailable") == 4
    assert attempts_observed(registry, "get_product") == 3  # the refused call never reached it


async def test_open_breaker_is_not_retried(registry: CollectorRegistry, clock: FakeClock) -> None:
    erp = ScriptedErp(then=ConnectorUnavailable("HTTP 503"))
    connector = wrap(erp, registry, breaker=make_breaker(clock, threshold=1), attempts=5)

    with pytest.raises(CircuitOpen):
        await connector.recent_orders("52998224725")

    # The first attempt failed and opened the breaker; the second was refused and not retried.
    assert len(erp.calls) == 1


async def test_half_open_trial_success_closes_the_breaker(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    erp = ScriptedErp(ConnectorUnavailable("x"), ConnectorUnavailable("x"))
    breaker = make_breaker(clock, threshold=2)
    connector = wrap(erp, registry, breaker=breaker, attempts=1)
    for _ in range(2):
        with pytest.raises(ConnectorUnavailable):
            await connector.search_products("camiseta")
    with pytest.raises(CircuitOpen):
        await connector.search_products("camiseta")

    clock.now += 30
    assert connector.breaker.state is BreakerState.half_open

    assert await connector.search_products("camiseta") == [PRODUCT]
    assert breaker.state is BreakerState.closed
    assert breaker_gauge(registry) == 0


async def test_half_open_trial_failure_reopens_the_breaker(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    erp = ScriptedErp(then=ConnectorUnavailable("x"))
    breaker = make_breaker(clock, threshold=1)
    connector = wrap(erp, registry, breaker=breaker, attempts=1)
    with pytest.raises(ConnectorUnavailable):
        await connector.get_product("CAM-001")

    clock.now += 30
    with pytest.raises(ConnectorUnavailable, match="x"):
        await connector.get_product("CAM-001")

    assert breaker.state is BreakerState.open
    assert breaker.opened_count == 2
    assert len(erp.calls) == 2


async def test_cancelled_trial_hands_the_half_open_slot_back(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    erp = ScriptedErp(ConnectorUnavailable("x"), HANG)
    breaker = make_breaker(clock, threshold=1)
    connector = wrap(erp, registry, breaker=breaker, attempts=1, timeout=60)
    with pytest.raises(ConnectorUnavailable):
        await connector.get_product("CAM-001")
    clock.now += 30

    trial = asyncio.create_task(connector.get_product("CAM-001"))
    await erp.entered.wait()
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial

    assert await connector.get_product("CAM-001") == PRODUCT
    assert breaker.state is BreakerState.closed


async def test_unexpected_errors_count_as_error_and_breaker_failure(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    breaker = make_breaker(clock, threshold=1)
    connector = wrap(ScriptedErp(ValueError("bad payload")), registry, breaker=breaker)

    with pytest.raises(ValueError, match="bad payload"):
        await connector.get_product("CAM-001")

    assert calls(registry, "get_product", "error") == 1
    assert breaker.state is BreakerState.open


async def test_breakers_are_per_tenant(registry: CollectorRegistry) -> None:
    erp = ScriptedErp(then=ConnectorUnavailable("x"))
    first = ResilientConnector(erp, tenant_id="a", attempts=1, registry=registry)
    second = ResilientConnector(erp, tenant_id="b", attempts=1, registry=registry)

    for _ in range(5):
        with pytest.raises(ConnectorUnavailable):
            await first.get_product("CAM-001")

    assert first.breaker.state is BreakerState.open
    assert second.breaker.state is BreakerState.closed
    assert first.breaker.name == "erp:fake:a"
    labels = {"connector": "fake", "tenant": "a"}
    assert registry.get_sample_value("atende_connector_breaker_open", labels) == 1
    labels = {"connector": "fake", "tenant": "b"}
    assert registry.get_sample_value("atende_connector_breaker_open", labels) == 0


async def test_many_connectors_share_one_set_of_metrics(registry: CollectorRegistry) -> None:
    connectors = [wrap(ScriptedErp(), registry) for _ in range(20)]

    for connector in connectors:
        await connector.get_product("CAM-001")

    assert connector_metrics(registry) is connector_metrics(registry)
    assert calls(registry, "get_product", "ok") == 20


def test_the_default_registry_is_registered_once() -> None:
    erp = ScriptedErp()

    ResilientConnector(erp, tenant_id="default-registry")
    ResilientConnector(erp, tenant_id="default-registry")

    assert connector_metrics() is connector_metrics(None)


CALLS: list[tuple[str, tuple[Any, ...], object]] = [
    ("find_customer", ("52998224725",), CUSTOMER),
    ("open_titulos", ("52998224725",), [TITULO]),
    ("second_copy", ("52998224725", "t1"), SECOND_COPY),
    ("recent_orders", ("52998224725", 30), [ORDER]),
    ("get_order", ("52998224725", "o1"), ORDER),
    ("get_product", ("CAM-001",), PRODUCT),
    ("search_products", ("camiseta", 5), [PRODUCT]),
    ("place_order", (REQUEST, "key-1"), RECEIPT),
]


@pytest.mark.parametrize(("method", "args", "expected"), CALLS, ids=[c[0] for c in CALLS])
async def test_every_method_forwards_its_arguments_and_result(
    registry: CollectorRegistry, method: str, args: tuple[Any, ...], expected: object
) -> None:
    erp = ScriptedErp()
    connector = wrap(erp, registry)

    assert await getattr(connector, method)(*args) == expected

    assert erp.calls == [(method, args)]
    assert calls(registry, method, "ok") == 1


def test_attempts_must_be_positive(registry: CollectorRegistry) -> None:
    with pytest.raises(ValueError, match="attempts"):
        wrap(ScriptedErp(), registry, attempts=0)
