"""Clients that go away or go slow: one debug line for an abandoned body, and the server closes
connections whose headers or body do not arrive in time (issue 10, point 6).

The database plays no part here: SQLite only.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest

from atende.config import Settings
from atende.main import Container
from tests.support import databases
from tests.support.app import Seeded, running

PATH = "/webhooks/whatsapp/acme-whatsapp"
GUARD = 15.0  # seconds: only reached when the server never closes (the bug)


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    return databases.sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"http_header_timeout_seconds": 0.5, "http_body_timeout_seconds": 0.5}
    )


class Watch(logging.Handler):
    """Wakes the test when the server reports the disconnect (or fails on it)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.seen = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        text = str(record.msg)
        if record.levelno >= logging.ERROR or "disconnect" in text or "too slow" in text:
            self.loop.call_soon_threadsafe(self.seen.set)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    from atende.kit.logging import configure_logging

    stream = io.StringIO()
    configure_logging(level="DEBUG", json=True, stream=stream)
    yield stream
    configure_logging(level="WARNING", json=False)


@pytest.fixture
async def server(
    container: Container, seeded: Seeded, captured: io.StringIO
) -> AsyncIterator[tuple[str, int]]:
    async with running(container) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def _lines(captured: io.StringIO, start: int) -> list[dict[str, object]]:
    return [orjson.loads(x) for x in captured.getvalue()[start:].splitlines() if x.strip()]


def _headers(length: int) -> bytes:
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"X-Hub-Signature-256: sha256=00\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def test_that_an_abandoned_body_is_one_debug_line(
    server: tuple[str, int], captured: io.StringIO
) -> None:
    watch = Watch()
    logging.getLogger().addHandler(watch)
    start = len(captured.getvalue())
    try:
        _, writer = await asyncio.open_connection(*server)
        writer.write(_headers(10_000) + b'{"object": "whatsapp_business_account", "entr')
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await asyncio.wait_for(watch.seen.wait(), GUARD)
    finally:
        logging.getLogger().removeHandler(watch)

    lines = _lines(captured, start)
    assert [line["level"] for line in lines] == ["debug"]
    assert lines[0]["event"] == "client disconnected before the request was read"
    assert len(captured.getvalue()) - start < 500  # one short line, no traceback


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connects and says nothing
        f"POST {PATH} HTTP/1.1\r\nHost: test\r\n".encode(),  # headers that never end
    ],
)
async def test_that_headers_that_do_not_arrive_in_time_close_the_connection(
    server: tuple[str, int], sent: bytes
) -> None:
    reader, writer = await asyncio.open_connection(*server)
    writer.write(sent)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(), GUARD)  # until the server closes
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_that_a_body_that_does_not_arrive_in_time_closes_the_connection(
    server: tuple[str, int], captured: io.StringIO
) -> None:
    start = len(captured.getvalue())
    reader, writer = await asyncio.open_connection(*server)
    writer.write(_headers(10_000) + b'{"object": ')
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(), GUARD)
    finally:
        writer.close()
    assert answer == b""  # closed mid-request: no response can be trusted to arrive
    levels = [line["level"] for line in _lines(captured, start)]
    assert "error" not in levels
