"""The baseline for benchmarks/webhook.py: the least a WhatsApp webhook endpoint can do here.

One FastAPI POST handler on a raw ``Request``: check ``X-Hub-Signature-256`` (HMAC-SHA256 of the
raw body), parse the JSON, INSERT the message into SQLite (aiosqlite, WAL, synchronous=NORMAL,
unique on the provider message id as any deduplicating receiver needs), commit, answer ``200 {}``.
Served by uvicorn in one process with the same defaults as ``atende serve`` (uvloop and httptools
when installed), so Atende's webhook can be quoted as a fraction of it.

    .venv/bin/python benchmarks/bare_app.py --port 8100 --db /tmp/bare.db --app-secret s3cret
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiosqlite
import orjson
import uvicorn
from fastapi import FastAPI, Request, Response

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    provider_message_id TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    text TEXT
)
"""
_INSERT = "INSERT OR IGNORE INTO messages (provider_message_id, sender, text) VALUES (?, ?, ?)"
_PREFIX = "sha256="


def create_app(db_path: str, app_secret: str) -> FastAPI:
    key = app_secret.encode()
    connection: list[aiosqlite.Connection] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        db = await aiosqlite.connect(db_path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute(_SCHEMA)
        await db.commit()
        connection.append(db)
        try:
            yield
        finally:
            await db.close()

    app = FastAPI(lifespan=lifespan)

    # The same path as Atende's webhook, so one set of pre-built requests drives both servers.
    @app.post("/webhooks/whatsapp/{slug}")
    async def receive(slug: str, request: Request) -> Response:
        body = await request.body()
        header = request.headers.get("x-hub-signature-256", "")
        expected = _PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), header.encode()):
            return Response(b'{"error": "invalid signature"}', status_code=401)
        payload = orjson.loads(body)
        message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        db = connection[0]
        await db.execute(_INSERT, (message["id"], message["from"], message["text"]["body"]))
        await db.commit()
        return Response(b"{}", media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--db", required=True, help="SQLite file (created if missing)")
    parser.add_argument("--app-secret", required=True, help="key of the HMAC signature")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.db, args.app_secret),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
