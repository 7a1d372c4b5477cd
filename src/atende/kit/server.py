"""The HTTP server: uvicorn, with the header and body read timeouts it does not have.

uvicorn (0.54) times out idle keep-alive connections only (``timeout_keep_alive``, armed after a
response). A client that connects and sends nothing, or sends its headers or body a byte at a
time, holds a connection and its memory for as long as it likes: 1,900 such connections were
held for 40 s in an adversarial run. There is no option for it, and an ASGI middleware cannot
help with headers (the app is called only once they are complete), so the protocol is extended:
a deadline for the request line and headers, armed when the connection opens and when each
request begins, and one for the body, armed when the headers are complete. Either expiring
closes the connection (with a 408 if no request was under way). It subclasses uvicorn's
httptools protocol, passed through uvicorn's documented ``http=`` option; the test in
tests/e2e/test_slow_clients.py catches a uvicorn release that changes the callbacks it uses.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from atende.config import Settings
from atende.kit.logging import get_logger

log = get_logger(__name__)

_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 15\r\nconnection: close\r\n\r\nRequest Timeout"
)


class TimedHttpProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    body_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, phase)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: str) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed already, or upgraded to another protocol
        log.debug("client too slow; connection closed", phase=phase)
        if phase == "headers" and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm(self.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout, "body")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()


def server_config(
    app: Any, settings: Settings, *, host: str, port: int, access_log: bool = False
) -> uvicorn.Config:
    """The one uvicorn configuration of `atende serve` (and of the tests' servers)."""
    protocol = type(
        "AtendeHttpProtocol",
        (TimedHttpProtocol,),
        {
            "header_timeout": settings.http_header_timeout_seconds,
            "body_timeout": settings.http_body_timeout_seconds,
        },
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        timeout_keep_alive=settings.http_keep_alive_seconds,
        log_config=None,
        access_log=access_log,
        lifespan="on",
    )
