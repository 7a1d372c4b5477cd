"""Process tuning shared by every long-running role (API, worker, benchmarks that mimic them)."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Call once start-up is done.

    Objects alive after start-up (modules, mappers, compiled SQL, the NLU model) live for the
    whole process: moving them out of the collector's reach shortens the full collections that
    otherwise show up as tail latency under load. Fewer, larger young-generation collections
    too: the request and turn paths allocate many short-lived objects (ORM rows, dicts, JSON),
    and each collection is a pause everything in flight then waits for.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
