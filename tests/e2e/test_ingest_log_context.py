"""The ingest writer logs each batch with that batch's own context (issue 10, point 7)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import orjson
import pytest
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from atende.channels.types import OtherEvent, WebhookBatch
from atende.devtools.fake_graph import FakeGraph
from atende.ingest.service import IngestService
from atende.kit.logging import configure_logging
from atende.main import Container
from tests.support.app import seed

DIGITS_ID = "20261207190000123"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(level="DEBUG", json=True, stream=stream)
    yield stream
    configure_logging(level="WARNING", json=False)


class Breakable:
    """The container's sessions, until the database goes away."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.broken = False

    def __call__(self) -> AsyncSession:
        if self.broken:
            raise ConnectionRefusedError("the database went away")
        return self.container.sessions()


async def test_that_a_failed_batch_is_logged_with_its_own_correlation_id_and_channel(
    container: Container, graph: FakeGraph, captured: io.StringIO
) -> None:
    await seed(container, graph.url, slug="acme")
    await seed(container, graph.url, slug="beta")
    first = await container.directory.by_slug("acme-whatsapp")
    second = await container.directory.by_slug("beta-whatsapp")
    sessions = Breakable(container)
    ingest = IngestService(sessions, container.queue)  # type: ignore[arg-type]
    batch = WebhookBatch((), (), (OtherEvent("account_update", {"event": "x"}),))
    try:
        # The first webhook after start-up starts the writer, inside its own request's context.
        with structlog.contextvars.bound_contextvars(
            correlation_id="first-request", channel=first.slug
        ):
            await ingest.record(first, batch, correlation_id="first-request")
        sessions.broken = True
        with (
            structlog.contextvars.bound_contextvars(correlation_id=DIGITS_ID, channel=second.slug),
            pytest.raises(RuntimeError),
        ):
            await ingest.record(second, batch, correlation_id=DIGITS_ID)
    finally:
        await ingest.close()

    events = [orjson.loads(line) for line in captured.getvalue().splitlines() if line.strip()]
    failed = [e for e in events if e["event"] == "webhook batch could not be stored"]
    assert len(failed) == 1
    assert failed[0]["correlation_id"] == DIGITS_ID  # its own, and not masked as a phone
    assert failed[0]["channel"] == "beta-whatsapp"
    assert failed[0]["level"] == "error"
