"""The HTTP application: routers assembled, errors translated, health reported."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

import atende
from atende.business.endpoints import build_router as business_router
from atende.business.errors import HttpProblem, InvalidInput
from atende.channels.sandbox.endpoints import build_router as sandbox_router
from atende.channels.whatsapp.endpoints import build_router as whatsapp_router
from atende.config import Environment
from atende.kit.errors import AtendeError
from atende.kit.http import problem
from atende.kit.logging import get_logger
from atende.kit.runtime import settle_heap
from atende.main import Container

log = get_logger(__name__)


def create_app(container: Container, *, workers: bool = True, recover: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if workers:
            await container.start_workers(recover_pending=recover)
        settle_heap()
        log.info("atende started", version=atende.__version__, workers=workers)
        try:
            yield
        finally:
            await container.aclose()

    app = FastAPI(
        title="Atende",
        version=atende.__version__,
        summary="AI customer service on WhatsApp and other channels",
        lifespan=lifespan,
    )
    app.state.container = container

    @app.exception_handler(AtendeError)
    async def domain_error(_request: Request, error: AtendeError) -> JSONResponse:
        return problem(error)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, _error: ClientDisconnect) -> Response:
        # The client (or the server's body timeout, kit/server.py) ended the request before its
        # body was read: nothing to answer and nothing of ours failed, so no traceback. Anyone
        # can cause this, so it must not fill the error log.
        log.debug("client disconnected before the request was read", path=request.url.path)
        return Response(status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        # Field names and error types only: the offending values may be personal data.
        return problem(InvalidInput(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        # The Business API speaks problem details in pt-BR, for routes it does not have too.
        if not request.url.path.startswith("/api/"):
            return await http_exception_handler(request, error)
        response = problem(HttpProblem(error.status_code))
        response.headers.update(error.headers or {})  # e.g. Allow, on a 405
        return response

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Database and queue are reachable."""
        checks: dict[str, Any] = await container.ready()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics of this process: connector calls, latency and breaker state…"""
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    settings = container.settings
    app.include_router(
        whatsapp_router(
            container.directory, container.ingest, lambda: settings.webhook_max_body_bytes
        )
    )
    if settings.env is not Environment.production:
        # A sandbox token speaks as any phone and reads its replies: a development tool only.
        app.include_router(sandbox_router(container.sandbox))
    app.include_router(business_router(container.sessions, container.business))
    return app
