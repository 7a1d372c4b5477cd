"""Serving the real app over real HTTP inside the test's event loop, and test data factories."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from atende.api import create_app
from atende.channels.models import ChannelKind
from atende.channels.whatsapp.verify import sign
from atende.demo import ensure_channel, ensure_tenant
from atende.kit.server import server_config
from atende.main import Container

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "106540352242922"
SANDBOX_TOKEN = "test-sandbox-token"


@asynccontextmanager
async def serve(app: FastAPI, port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn on ``port`` (0: a free one); yields its base URL."""
    config = server_config(app, app.state.container.settings, host="127.0.0.1", port=port)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    started = asyncio.Event()

    async def watch() -> None:
        while not server.started:
            if task.done():
                return
            await asyncio.sleep(0.005)
        started.set()

    watcher = asyncio.create_task(watch())
    await asyncio.wait({watcher, task}, return_when=asyncio.FIRST_COMPLETED, timeout=60)
    if not started.is_set():
        task.cancel()
        raise RuntimeError("the test server did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True)
class Seeded:
    tenant_id: str
    whatsapp_id: str
    sandbox_id: str


async def seed(container: Container, graph_url: str, *, slug: str = "acme") -> Seeded:
    tenant_id = await ensure_tenant(container.sessions, slug, slug.title())
    whatsapp_id = await ensure_channel(
        container.sessions,
        container.box,
        tenant_id=tenant_id,
        slug=f"{slug}-whatsapp",
        kind=ChannelKind.whatsapp,
        name="WhatsApp",
        config={
            "phone_number_id": PHONE_NUMBER_ID,
            "graph_url": graph_url,
            "api_version": "v23.0",
        },
        secrets={
            "app_secret": APP_SECRET,
            "verify_token": VERIFY_TOKEN,
            "access_token": ACCESS_TOKEN,
        },
    )
    sandbox_id = await ensure_channel(
        container.sessions,
        container.box,
        tenant_id=tenant_id,
        slug=f"{slug}-sandbox",
        kind=ChannelKind.sandbox,
        name="Sandbox",
        config={},
        secrets={"token": SANDBOX_TOKEN},
    )
    container.directory.invalidate()
    return Seeded(tenant_id, whatsapp_id, sandbox_id)


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign(secret, body), "Content-Type": "application/json"}


@asynccontextmanager
async def running(container: Container, port: int = 0) -> AsyncIterator[str]:
    async with serve(create_app(container), port) as url:
        yield url


@contextmanager
def serving_in_thread(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free port in a thread with its own event loop; yields its
    base URL. For synchronous tests (Hypothesis, Schemathesis) that call the app over HTTP."""
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name="test-server", daemon=True)
    thread.start()
    try:
        # uvicorn offers no start-up callback to a thread; `started` flips once it listens.
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            threading.Event().wait(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
