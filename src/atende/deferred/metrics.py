"""How many requests an outage made us keep, and what became of them."""

from __future__ import annotations

from prometheus_client import Counter

DEFERRED = Counter(
    "atende_deferred_requests_total",
    "Requests kept while the business's system was down, by kind and outcome "
    "(kept, retried, done, failed, expired, cancelled).",
    ["kind", "outcome"],
)


def count(kind: str, outcome: str) -> None:
    DEFERRED.labels(kind=kind, outcome=outcome).inc()
