"""Timeouts, retries, a circuit breaker and metrics around any :class:`ErpConnector`.

Policy, per call:

* every attempt runs under its own ``asyncio.timeout``; a timeout is a transient failure;
* only :class:`ConnectorUnavailable` is retried (exponential backoff with full jitter, so many
  conversations hitting a struggling ERP do not retry in lockstep); ``place_order`` is safe to
  retry because the idempotency key travels with every attempt;
* the breaker is consulted before every attempt, because every attempt is load on the ERP; when
  it is open the call fails at once with ``ConnectorUnavailable("circuit open")`` and is not
  retried (waiting a few milliseconds would not close it);
* business answers (NotFound, Refused, InvalidRequest) prove the ERP is healthy: they pass through
  untouched and count as breaker successes; anything else (transient or not) counts as a failure,
  so a misbehaving adapter is not hammered either.

Metrics: ``atende_connector_calls_total`` counts calls by final outcome, the latency histogram
observes each attempt that reached the ERP (the ERP's latency, not our backoff), and the breaker
gauge is 1 while the breaker is not closed (open or half-open). Log lines carry the connector,
tenant and method, never arguments: those are CPFs, CNPJs and order contents.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from atende.connectors.port import (
    ConnectorUnavailable,
    Customer,
    ErpConnector,
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
from atende.kit.breaker import BreakerState, CircuitBreaker
from atende.kit.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")

_BUSINESS_ERRORS = (NotFound, Refused, InvalidRequest)
# ERP calls are slower than our own: a few ms for a cache hit, seconds for a legacy SOAP endpoint.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class CircuitOpen(ConnectorUnavailable):
    """Raised without calling the ERP; a subclass so the retry policy can skip it."""

    def __init__(self) -> None:
        super().__init__("circuit open")


@dataclass(frozen=True, slots=True)
class ConnectorMetrics:
    calls: Counter
    latency: Histogram
    breaker_open: Gauge


# Keyed by the registry object itself (weakly), not id(): a collected registry's id may be reused.
_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, ConnectorMetrics] = (
    weakref.WeakKeyDictionary()
)


def connector_metrics(registry: CollectorRegistry | None = None) -> ConnectorMetrics:
    """The connector metrics of ``registry``, registered on first use only."""
    target = REGISTRY if registry is None else registry
    found = _METRICS.get(target)
    if found is None:
        found = ConnectorMetrics(
            calls=Counter(
                "atende_connector_calls_total",
                "Calls to the business's systems by final outcome.",
                ["connector", "method", "outcome"],
                registry=target,
            ),
            latency=Histogram(
                "atende_connector_latency_seconds",
                "Latency of each attempt that reached the business's systems.",
                ["connector", "method"],
                buckets=_LATENCY_BUCKETS,
                registry=target,
            ),
            breaker_open=Gauge(
                "atende_connector_breaker_open",
                "1 while the connector's circuit breaker for the tenant is not closed.",
                ["connector", "tenant"],
                registry=target,
            ),
        )
        _METRICS[target] = found
    return found


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, NotFound):
        return "not_found"
    if isinstance(exc, Refused | InvalidRequest):
        # An invalid request is the caller's problem, not the ERP's; it is a "no", like Refused.
        return "refused"
    if isinstance(exc, ConnectorUnavailable):
        return "unavailable"
    return "error"


@dataclass(frozen=True, slots=True)
class ConnectorPolicy:
    """The resilience settings of every connector of a process (``ATENDE_ERP_*``)."""

    timeout: float = 5.0
    attempts: int = 3
    backoff_max: float = 2.0
    breaker_failures: int = 5
    breaker_reset: float = 30.0


class ResilientConnector:
    """An :class:`ErpConnector` that wraps another one with the policy described above.

    The breaker belongs to this instance unless one is passed in: keep one ResilientConnector per
    (connector, tenant) for the life of the process, or pass a shared breaker.
    """

    def __init__(
        self,
        inner: ErpConnector,
        *,
        tenant_id: str,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff_max: float = 2.0,
        breaker: CircuitBreaker | None = None,
        registry: CollectorRegistry | None = None,
        breaker_failures: int = 5,
        breaker_reset: float = 30.0,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._inner = inner
        self.name = inner.name
        self.tenant_id = tenant_id
        self._timeout = timeout
        self._attempts = attempts
        self._backoff_max = backoff_max
        self._breaker = breaker or CircuitBreaker(
            f"erp:{inner.name}:{tenant_id}",
            failure_threshold=breaker_failures,
            reset_seconds=breaker_reset,
        )
        self._metrics = connector_metrics(registry)
        self._breaker_gauge = self._metrics.breaker_open.labels(
            connector=self.name, tenant=tenant_id
        )
        self._publish_breaker()

    @property
    def inner(self) -> ErpConnector:
        return self._inner

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    @property
    def breaker_state(self) -> BreakerState:
        return self._breaker.state

    async def find_customer(self, document: str) -> Customer:
        return await self._call("find_customer", lambda: self._inner.find_customer(document))

    async def open_titulos(self, document: str) -> list[Titulo]:
        return await self._call("open_titulos", lambda: self._inner.open_titulos(document))

    async def second_copy(self, document: str, titulo_id: str) -> SecondCopy:
        return await self._call("second_copy", lambda: self._inner.second_copy(document, titulo_id))

    async def recent_orders(self, document: str, days: int = 60) -> list[Order]:
        return await self._call("recent_orders", lambda: self._inner.recent_orders(document, days))

    async def get_order(self, document: str, order_id: str) -> Order:
        return await self._call("get_order", lambda: self._inner.get_order(document, order_id))

    async def get_product(self, sku: str) -> Product:
        return await self._call("get_product", lambda: self._inner.get_product(sku))

    async def search_products(self, query: str, limit: int = 10) -> list[Product]:
        return await self._call(
            "search_products", lambda: self._inner.search_products(query, limit)
        )

    async def place_order(self, request: OrderRequest, idempotency_key: str) -> OrderReceipt:
        return await self._call(
            "place_order", lambda: self._inner.place_order(request, idempotency_key)
        )

    async def _call(self, method: str, call: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(ConnectorUnavailable)
            & retry_if_not_exception_type(CircuitOpen),
            # Full jitter: the first wait is up to a quarter of the cap, then it doubles.
            wait=wait_random_exponential(multiplier=self._backoff_max / 4, max=self._backoff_max),
            stop=stop_after_attempt(self._attempts),
            before_sleep=lambda state: self._log_retry(method, state),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    result = await self._attempt(method, call)
        except Exception as exc:
            self._count(method, _outcome(exc))
            raise
        self._count(method, "ok")
        return result

    async def _attempt(self, method: str, call: Callable[[], Awaitable[T]]) -> T:
        before = self._breaker.state
        if not self._breaker.allow():
            self._publish_breaker(before, method)
            raise CircuitOpen
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                result = await call()
        except TimeoutError as exc:
            self._finish(method, started, before, ok=False)
            raise ConnectorUnavailable("timeout") from exc
        except _BUSINESS_ERRORS:
            self._finish(method, started, before, ok=True)
            raise
        except asyncio.CancelledError:
            # Our caller gave up; the ERP's health is unknown, so the trial slot is handed back.
            self._breaker.release()
            raise
        except Exception:
            self._finish(method, started, before, ok=False)
            raise
        self._finish(method, started, before, ok=True)
        return result

    def _finish(self, method: str, started: float, before: BreakerState, *, ok: bool) -> None:
        self._metrics.latency.labels(connector=self.name, method=method).observe(
            time.perf_counter() - started
        )
        if ok:
            self._breaker.success()
        else:
            self._breaker.failure()
        self._publish_breaker(before, method)

    def _publish_breaker(self, before: BreakerState | None = None, method: str = "") -> None:
        state = self._breaker.state
        self._breaker_gauge.set(0 if state is BreakerState.closed else 1)
        if before is not None and state is not before:
            log.warning(
                "connector breaker changed",
                connector=self.name,
                tenant=self.tenant_id,
                method=method,
                previous=before.value,
                state=state.value,
                retry_in=round(self._breaker.retry_in(), 3),
            )

    def _count(self, method: str, outcome: str) -> None:
        self._metrics.calls.labels(connector=self.name, method=method, outcome=outcome).inc()

    def _log_retry(self, method: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.info(
            "connector call retrying",
            connector=self.name,
            tenant=self.tenant_id,
            method=method,
            attempt=state.attempt_number,
            # The type only: an adapter's message may quote the request, and requests carry PII.
            error=type(error).__name__ if error is not None else None,
            wait=round(state.upcoming_sleep, 3),
        )
