"""A local stand-in for Meta's Graph API (WhatsApp Cloud API), for tests, benchmarks and demos.

It speaks real HTTP on 127.0.0.1, so the production client runs unchanged against it: the
connection pool, timeouts, error mapping, multipart uploads and media downloads are exercised for
real. It answers like Meta (same success and error bodies), records every request, and can be
scripted to fail, throttle or stall. Tests wait on it with :meth:`FakeGraph.wait_for_messages`
instead of sleeping.

Media customers "sent" are registered with :meth:`FakeGraph.add_media` and served in Meta's two
steps: a lookup by media id answers a short-lived URL, then that URL serves the bytes, both with
the access token.

Run standalone (``python -m atende.devtools.fake_graph``) to see a demo's replies as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import secrets
import signal
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")

MAX_TEXT = 4096
# Meta takes documents up to 100 MB; aiohttp's default 1 MiB would refuse realistic uploads.
_MAX_UPLOAD = 110 * 1024 * 1024
_MESSAGE_TYPES = frozenset(
    {
        "text",
        "image",
        "document",
        "audio",
        "video",
        "sticker",
        "interactive",
        "template",
        "location",
        "contacts",
        "reaction",
    }
)


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request the fake received, whatever it answered."""

    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None
    #: Wall-clock time (``time.time()``), comparable with timestamps taken in other processes.
    received_at: float
    #: "message" (a send to /messages), "read" (a mark-as-read), "media" (an upload),
    #: "media_info" (a media lookup by id), "media_download" (a media URL fetched), "other".
    kind: str = "other"
    #: The HTTP status the fake answered with.
    status: int = 200
    #: The ``wamid.…`` (or media id) the fake answered with, when it accepted the request.
    message_id: str | None = None
    #: Multipart fields of a media upload; the file as {"filename", "content_type", "size"}.
    form: dict[str, Any] | None = None

    def header(self, name: str) -> str | None:
        """A request header, looked up case-insensitively as HTTP intends."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class Reply:
    """A scripted answer. A 2xx without ``body`` answers the normal success body."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    #: Seconds to wait before answering (on top of the fake's global ``latency``).
    delay: float = 0.0
    #: Bytes sent verbatim instead of ``body``, to answer something that is not JSON.
    raw: bytes | None = None

    @classmethod
    def meta_error(
        cls,
        status: int,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        details: str | None = None,
        error_type: str = "OAuthException",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """An error shaped like Meta's: ``{"error": {"message", "type", "code", …}}``."""
        error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        if details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": details}
        error["fbtrace_id"] = f"Fake{uuid.uuid4().hex[:20]}"
        return cls(status, {"error": error}, headers=headers, delay=delay)


@dataclass(frozen=True, slots=True)
class _Media:
    data: bytes
    mime_type: str
    filename: str | None
    sha256: str
    file_size: int


class FakeGraph:
    """An aiohttp server answering ``/{version}/{phone_number_id}/messages`` and ``/media``,
    media lookups ``GET /{version}/{media_id}`` and the download URLs those hand out."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_token: str | None = None,
        latency: float = 0.0,
        on_request: Callable[[Recorded], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.access_token = access_token
        #: Seconds added to every answer; benchmarks set it to mimic Meta's response time.
        self.latency = latency
        self.on_request = on_request
        self.requests: list[Recorded] = []
        #: Uploaded files by the media id the fake answered with.
        self.uploaded: dict[str, bytes] = {}
        #: How long a download URL from a media lookup works; Meta's last about five minutes.
        #: Zero makes every URL expired by the time it is used.
        self.media_url_ttl = 300.0
        self._media: dict[str, _Media] = {}
        #: Download token -> (media id, monotonic time the URL was handed out).
        self._download_urls: dict[str, tuple[str, float]] = {}
        self._scripts: dict[str, deque[Reply]] = {
            "message": deque(),
            "read": deque(),
            "media": deque(),
            "media_info": deque(),
            "media_download": deque(),
        }
        self._media_ids = itertools.count(1_000_000_000_000_001)
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeGraph is already running")
        # Fresh primitives: they bind to the event loop that first uses them.
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=_MAX_UPLOAD)
        app.router.add_post("/{version}/{phone_number_id}/messages", self._on_messages)
        app.router.add_post("/{version}/{phone_number_id}/media", self._on_media)
        # Before the lookup route, whose two segments would match a download URL too.
        app.router.add_get("/media-download/{token}", self._on_media_download)
        app.router.add_get("/{version}/{media_id}", self._on_media_info)
        app.router.add_route("*", "/{tail:.*}", self._on_other)
        # Scripted delays wake up on stop(), so in-flight handlers end at once; the short
        # shutdown timeout only bounds a client that keeps a connection busy.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping.set()
        await runner.cleanup()

    async def __aenter__(self) -> FakeGraph:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Base URL to use as a channel's ``graph_url``, e.g. ``http://127.0.0.1:54321``."""
        if self._bound_port is None:
            raise RuntimeError("FakeGraph is not started: await start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._bound_port}"

    # -- what was received --------------------------------------------------------------------

    @property
    def messages(self) -> list[Recorded]:
        """Message sends received (not mark-as-read), in arrival order, whatever was answered."""
        return [r for r in self.requests if r.kind == "message"]

    @property
    def reads(self) -> list[Recorded]:
        return [r for r in self.requests if r.kind == "read"]

    @property
    def uploads(self) -> list[Recorded]:
        return [r for r in self.requests if r.kind == "media"]

    @property
    def media_lookups(self) -> list[Recorded]:
        """``GET /{version}/{media_id}`` requests, in arrival order."""
        return [r for r in self.requests if r.kind == "media_info"]

    @property
    def downloads(self) -> list[Recorded]:
        """Requests to the download URLs media lookups handed out, in arrival order."""
        return [r for r in self.requests if r.kind == "media_download"]

    def clear(self) -> None:
        """Forget recorded requests, uploads, download URLs and pending scripts (between
        benchmark rounds). Media registered with :meth:`add_media` stays."""
        self.requests.clear()
        self.uploaded.clear()
        self._download_urls.clear()
        for queue in self._scripts.values():
            queue.clear()

    # -- media customers sent -------------------------------------------------------------------

    def add_media(
        self,
        media_id: str,
        data: bytes,
        mime_type: str,
        *,
        filename: str | None = None,
        sha256: str | None = None,
        file_size: int | None = None,
    ) -> None:
        """Hold a file as if a customer had sent it, for ``GET /{version}/{media_id}``.

        ``sha256`` and ``file_size`` are what the lookup declares (hex digest and length of
        ``data`` by default); give other values to play a corrupted file or a lying size.
        ``filename`` goes into the download's Content-Disposition.
        """
        self._media[media_id] = _Media(
            data=data,
            mime_type=mime_type,
            filename=filename,
            sha256=sha256 if sha256 is not None else hashlib.sha256(data).hexdigest(),
            file_size=file_size if file_size is not None else len(data),
        )

    # -- scripting ----------------------------------------------------------------------------

    def script(self, *responses: Reply) -> None:
        """Answer the next message sends with these, in order; then back to success."""
        self._scripts["message"].extend(responses)

    def script_reads(self, *responses: Reply) -> None:
        """Same as :meth:`script`, for mark-as-read requests."""
        self._scripts["read"].extend(responses)

    def script_media(self, *responses: Reply) -> None:
        """Same as :meth:`script`, for media uploads."""
        self._scripts["media"].extend(responses)

    def script_media_info(self, *responses: Reply) -> None:
        """Same as :meth:`script`, for media lookups (a 2xx without body answers the real one)."""
        self._scripts["media_info"].extend(responses)

    def script_media_download(self, *responses: Reply) -> None:
        """Same as :meth:`script`, for downloads (a 2xx without body or raw serves the file)."""
        self._scripts["media_download"].extend(responses)

    # -- waiting ------------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[FakeGraph], T],
        timeout: float = 10.0,
    ) -> T:
        """Wait until ``predicate(self)`` is truthy and return its value; TimeoutError if not."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                return await self._changed.wait_for(lambda: predicate(self))
        except TimeoutError:
            raise TimeoutError(
                f"FakeGraph: condition not met within {timeout}s; {self._summary()}"
            ) from None

    async def wait_for_messages(
        self,
        n: int,
        timeout: float = 10.0,
    ) -> list[Recorded]:
        """Wait until at least ``n`` message sends arrived; returns all messages so far."""
        try:
            await self.wait_for(lambda fake: len(fake.messages) >= n, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"FakeGraph: expected at least {n} messages within {timeout}s, "
                f"got {len(self.messages)}; {self._summary()}"
            ) from None
        return self.messages

    def _summary(self) -> str:
        counts: dict[str, int] = {}
        for recorded in self.requests:
            counts[recorded.kind] = counts.get(recorded.kind, 0) + 1
        received = ", ".join(f"{count} {kind}" for kind, count in counts.items()) or "nothing"
        last = (
            "; ".join(f"{r.kind} {r.path} -> {r.status}" for r in self.requests[-5:])
            or "no requests"
        )
        return f"received {received} (last: {last})"

    # -- handlers -----------------------------------------------------------------------------

    async def _on_messages(self, request: web.Request) -> web.StreamResponse:
        received_at = time.time()
        body = _json_object(await request.read())
        kind = "read" if body is not None and body.get("status") == "read" else "message"
        reply = self._auth_failure(request)
        if reply is None:
            problem = _read_problem(body) if kind == "read" else _message_problem(body)
            if problem is not None:
                reply = Reply.meta_error(400, 100, "(#100) Invalid parameter", details=problem)
        if reply is None:
            reply = self._next_scripted(kind) or Reply(200)
        if 200 <= reply.status < 300 and reply.body is None and reply.raw is None:
            assert body is not None  # validation passed
            reply = Reply(
                reply.status,
                _read_success() if kind == "read" else _message_success(body),
                headers=reply.headers,
                delay=reply.delay,
            )
        await self._record(
            Recorded(
                path=request.path,
                headers=dict(request.headers),
                json=body,
                received_at=received_at,
                kind=kind,
                status=reply.status,
                message_id=_answered_message_id(reply) if kind == "message" else None,
            )
        )
        return await self._respond(reply)

    async def _on_media(self, request: web.Request) -> web.StreamResponse:
        received_at = time.time()
        fields: dict[str, Any] = {}
        data: bytes | None = None
        if request.content_type == "multipart/form-data":
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    fields[name] = {
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "size": len(data),
                    }
                else:
                    fields[name] = value
        reply = self._auth_failure(request)
        if reply is None:
            problem = _media_problem(fields, data)
            if problem is not None:
                reply = Reply.meta_error(400, 100, "(#100) Invalid parameter", details=problem)
        if reply is None:
            reply = self._next_scripted("media") or Reply(200)
        media_id: str | None = None
        if 200 <= reply.status < 300 and reply.body is None and reply.raw is None:
            assert data is not None  # validation passed
            media_id = str(next(self._media_ids))
            self.uploaded[media_id] = data
            reply = Reply(reply.status, {"id": media_id}, headers=reply.headers, delay=reply.delay)
        await self._record(
            Recorded(
                path=request.path,
                headers=dict(request.headers),
                json=None,
                received_at=received_at,
                kind="media",
                status=reply.status,
                message_id=media_id,
                form=fields,
            )
        )
        return await self._respond(reply)

    async def _on_media_info(self, request: web.Request) -> web.StreamResponse:
        received_at = time.time()
        media_id = request.match_info["media_id"]
        media = self._media.get(media_id)
        reply = self._auth_failure(request)
        if reply is None and media is None:
            reply = _unknown_object(media_id)
        if reply is None:
            reply = self._next_scripted("media_info") or Reply(200)
        if 200 <= reply.status < 300 and reply.body is None and reply.raw is None:
            assert media is not None  # unknown ids were answered above
            token = secrets.token_urlsafe(16)
            self._download_urls[token] = (media_id, time.monotonic())
            body = {
                "messaging_product": "whatsapp",
                "url": f"{self.url}/media-download/{token}",
                "mime_type": media.mime_type,
                "sha256": media.sha256,
                "file_size": media.file_size,
                "id": media_id,
            }
            reply = Reply(reply.status, body, headers=reply.headers, delay=reply.delay)
        await self._record(
            Recorded(
                path=request.path,
                headers=dict(request.headers),
                json=None,
                received_at=received_at,
                kind="media_info",
                status=reply.status,
                message_id=media_id if media is not None else None,
            )
        )
        return await self._respond(reply)

    async def _on_media_download(self, request: web.Request) -> web.StreamResponse:
        received_at = time.time()
        issued = self._download_urls.get(request.match_info["token"])
        media_id: str | None = None
        reply: Reply | None
        # Meta's download URLs refuse anonymous requests, whatever token the fake expects.
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            reply = Reply.meta_error(401, 190, "An access token is required to download media")
        else:
            reply = self._auth_failure(request)
        if reply is None:
            if issued is None or time.monotonic() - issued[1] >= self.media_url_ttl:
                # Like Meta's CDN: a plain-text 404 once the signed URL has expired.
                reply = Reply(
                    404, raw=b"URL signature expired", headers={"Content-Type": "text/plain"}
                )
            else:
                media_id = issued[0]
        media = self._media.get(media_id) if media_id is not None else None
        if reply is None and media is None:
            reply = Reply(404, raw=b"Not Found", headers={"Content-Type": "text/plain"})
        if reply is None:
            reply = self._next_scripted("media_download") or Reply(200)
        if 200 <= reply.status < 300 and reply.body is None and reply.raw is None:
            assert media is not None  # unknown and expired URLs were answered above
            headers = {"Content-Type": media.mime_type, **(reply.headers or {})}
            if media.filename is not None:
                headers["Content-Disposition"] = f'attachment; filename="{media.filename}"'
            reply = Reply(reply.status, raw=media.data, headers=headers, delay=reply.delay)
        await self._record(
            Recorded(
                path=request.path,
                headers=dict(request.headers),
                json=None,
                received_at=received_at,
                kind="media_download",
                status=reply.status,
                message_id=media_id,
            )
        )
        return await self._respond(reply)

    async def _on_other(self, request: web.Request) -> web.StreamResponse:
        received_at = time.time()
        body = _json_object(await request.read())
        reply = Reply.meta_error(
            400,
            100,
            f"Unsupported {request.method.lower()} request. The fake Graph API only answers "
            "POST /{version}/{phone_number_id}/messages and /media, GET /{version}/{media_id}",
            error_type="GraphMethodException",
        )
        await self._record(
            Recorded(
                path=request.path,
                headers=dict(request.headers),
                json=body,
                received_at=received_at,
                kind="other",
                status=reply.status,
            )
        )
        return await self._respond(reply)

    def _auth_failure(self, request: web.Request) -> Reply | None:
        if self.access_token is None:
            return None
        if request.headers.get("Authorization") == f"Bearer {self.access_token}":
            return None
        return Reply.meta_error(401, 190, "Invalid OAuth access token - Cannot parse access token")

    def _next_scripted(self, kind: str) -> Reply | None:
        queue = self._scripts[kind]
        return queue.popleft() if queue else None

    async def _record(self, recorded: Recorded) -> None:
        self.requests.append(recorded)
        if self.on_request is not None:
            self.on_request(recorded)
        async with self._changed:
            self._changed.notify_all()

    async def _respond(self, reply: Reply) -> web.Response:
        delay = self.latency + reply.delay
        if delay > 0:
            # Sleep, but wake up when the server stops so shutdown never waits for a stall.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        body = reply.raw if reply.raw is not None else json.dumps(reply.body or {}).encode()
        headers = dict(reply.headers or {})
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
        return web.Response(status=reply.status, body=body, headers=headers)


# -- Meta's shapes ----------------------------------------------------------------------------


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _message_success(body: dict[str, Any]) -> dict[str, Any]:
    to = body.get("to")
    # A send by business-scoped user id has no phone to echo back.
    contact = {"input": to, "wa_id": to} if to else {"input": body.get("recipient")}
    return {
        "messaging_product": "whatsapp",
        "contacts": [contact],
        "messages": [{"id": f"wamid.FAKE{uuid.uuid4().hex.upper()}"}],
    }


def _unknown_object(object_id: str) -> Reply:
    """Meta's answer to a lookup of an id it does not know (or the token may not see)."""
    return Reply.meta_error(
        400,
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        subcode=33,
        error_type="GraphMethodException",
    )


def _read_success() -> dict[str, Any]:
    return {"success": True}


def _answered_message_id(reply: Reply) -> str | None:
    try:
        message_id = (reply.body or {})["messages"][0]["id"]
    except (KeyError, IndexError, TypeError):
        return None
    return message_id if isinstance(message_id, str) else None


def _message_problem(body: dict[str, Any] | None) -> str | None:
    if body is None:
        return "the request body must be a JSON object"
    if body.get("messaging_product") != "whatsapp":
        return 'messaging_product must be "whatsapp"'
    to, recipient = body.get("to"), body.get("recipient")
    if not (isinstance(to, str) and to) and not (isinstance(recipient, str) and recipient):
        return "to (a phone number) or recipient (a business-scoped user id) is required"
    message_type = body.get("type")
    if not message_type:
        return "type is required"
    if message_type not in _MESSAGE_TYPES:
        return f"unknown message type {message_type!r}"
    content = body.get(message_type)
    if not isinstance(content, dict):
        return f"a {message_type} message needs a {message_type!r} object"
    if message_type == "text":
        text = content.get("body")
        if not isinstance(text, str) or not text:
            return "text.body is required"
        if len(text) > MAX_TEXT:
            return f"text.body has {len(text)} characters, the maximum is {MAX_TEXT}"
    return None


def _read_problem(body: dict[str, Any] | None) -> str | None:
    assert body is not None  # only bodies with status=read get here
    if body.get("messaging_product") != "whatsapp":
        return 'messaging_product must be "whatsapp"'
    message_id = body.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        return "message_id is required to mark a message as read"
    return None


def _media_problem(fields: dict[str, Any], data: bytes | None) -> str | None:
    if fields.get("messaging_product") != "whatsapp":
        return 'messaging_product must be "whatsapp"'
    if not fields.get("type"):
        return "type (the file's MIME type) is required"
    if data is None:
        return "file is required"
    return None


# -- standalone -------------------------------------------------------------------------------


def _print_request(recorded: Recorded) -> None:
    line: dict[str, Any] = {
        "kind": recorded.kind,
        "path": recorded.path,
        "status": recorded.status,
        "id": recorded.message_id,
    }
    if recorded.json is not None:
        line["body"] = recorded.json
    if recorded.form is not None:
        line["form"] = recorded.form
    print(json.dumps(line, ensure_ascii=False), flush=True)


async def _serve(host: str, port: int, access_token: str | None, latency: float) -> None:
    fake = FakeGraph(
        host=host,
        port=port,
        access_token=access_token,
        latency=latency,
        on_request=_print_request,
    )
    try:
        await fake.start()
    except OSError as exc:
        raise SystemExit(f"fake-graph: cannot listen on {host}:{port}: {exc}") from exc
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no loop signal handlers
            loop.add_signal_handler(signum, done.set)
    # stderr, so stdout stays one JSON object per line for whoever pipes it.
    print(f"fake Graph API listening on {fake.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        await done.wait()
    finally:
        await fake.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the fake standalone, printing each request it receives as one JSON line."""
    parser = argparse.ArgumentParser(
        prog="fake-graph",
        description="A local fake of Meta's Graph API (WhatsApp Cloud API) for demos.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--access-token", default=None, help="require this Bearer token (default: accept any)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds to wait before every answer"
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.access_token, args.latency))


if __name__ == "__main__":
    main()
