"""The fake's server: OpenAI's routes and wire format, scripted steps, recorded requests.

It speaks real HTTP on 127.0.0.1 with OpenAI's wire format, so the official ``openai`` client
runs unchanged against it: connection pool, timeouts, retries and error mapping are exercised
for real, with no network and no API key. Each test scripts what "the model" answers (text,
parallel tool calls, malformed arguments, rate limits, stalls) and then asserts on what reached
the provider, which is how we prove that no CPF leaves the building. Tests wait on it with
:meth:`FakeLLM.wait_for_requests` instead of sleeping.

It is not a model: a test scripts the answers, or a ``responder`` decides them (``demo.py``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import inspect
import itertools
import json
import math
import re
import struct
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")

DEFAULT_MODELS = ("gpt-4o-mini", "whisper-1", "text-embedding-3-small")
DEFAULT_REPLY = "Fake reply."
DEFAULT_TRANSCRIPTION = "Fake transcription."
DEFAULT_EMBEDDING_DIMENSIONS = 256
# OpenAI takes audio files up to 25 MB; aiohttp's default 1 MiB would refuse realistic notes.
_MAX_BODY = 26 * 1024 * 1024
_FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. "

# -- what "the model" answers -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call in an assistant message. A ``str`` for arguments is sent verbatim."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    #: Generated as ``call_fake000001``… when not given.
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One answer to a chat completion request: a completion, an error or a stall.

    ``text=None`` without tool calls answers ``"content": null``. Token counts left as ``None``
    are estimated from the request and the answer (about four characters per token).
    """

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    #: Default: ``"tool_calls"`` when there are tool calls, ``"stop"`` otherwise.
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    #: Seconds to wait before answering, on top of ``FakeLLM(delay=…)``.
    delay: float = 0.0
    status: int = 200
    #: The ``error`` object of a non-2xx answer.
    error: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None
    #: Never answer (until the fake stops): the client's timeout is what ends the request.
    hang: bool = False
    #: Answer this text as the body instead of a completion (a broken proxy or provider).
    raw: str | None = None

    @classmethod
    def reply(cls, text: str, **overrides: Any) -> Step:
        return cls(text=text, **overrides)

    @classmethod
    def tools(cls, *calls: ToolCall, text: str | None = None, **overrides: Any) -> Step:
        return cls(text=text, tool_calls=calls, **overrides)

    @classmethod
    def failure(
        cls,
        status: int,
        *,
        message: str | None = None,
        code: str | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
    ) -> Step:
        """An error shaped like OpenAI's: ``{"error": {"message", "type", "param", "code"}}``."""
        default_type, default_code, default_message = _ERRORS.get(
            status, ("api_error", None, f"Fake error {status}")
        )
        headers = {"Retry-After": _seconds(retry_after)} if retry_after is not None else None
        return cls(
            status=status,
            error=openai_error(
                message or default_message,
                error_type=error_type or default_type,
                code=code if code is not None else default_code,
            ),
            headers=headers,
            delay=delay,
        )


_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def openai_error(
    message: str,
    *,
    error_type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    return {"message": message, "type": error_type, "param": param, "code": code}


# -- what reached the provider ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat completion request as the responder and the tests see it."""

    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def tools(self) -> list[dict[str, Any]]:
        tools = self.body.get("tools")
        return [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []

    @property
    def tool_names(self) -> list[str]:
        return [_tool_name(tool) for tool in self.tools]

    @property
    def last_message(self) -> dict[str, Any] | None:
        return self.messages[-1] if self.messages else None

    @property
    def last_user_text(self) -> str:
        users = [m for m in self.messages if m.get("role") == "user"]
        return _content_text(users[-1].get("content")) if users else ""

    @property
    def system_prompt(self) -> str:
        return "\n".join(
            _content_text(m.get("content"))
            for m in self.messages
            if m.get("role") in ("system", "developer")
        )

    def text(self) -> str:
        """Every piece of text sent: contents and tool call arguments (for privacy asserts)."""
        parts: list[str] = []
        for message in self.messages:
            parts.append(_content_text(message.get("content")))
            for call in message.get("tool_calls") or []:
                function = (call.get("function") if isinstance(call, dict) else None) or {}
                parts.append(f"{function.get('name', '')}({function.get('arguments', '')})")
        return "\n".join(part for part in parts if part)


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request the fake received, whatever it answered.

    Recorded on arrival, once the answer is decided: before any delay or hang, but after an
    async responder returns.
    """

    method: str
    path: str
    headers: dict[str, str]
    #: The JSON body when it was a JSON object.
    json: dict[str, Any] | None
    #: Wall-clock time (``time.time()``), comparable with timestamps taken in other processes.
    received_at: float
    #: "chat", "transcription", "embedding", "models" or "other".
    kind: str
    #: The HTTP status the fake answers (recorded before any delay); 0 for a hang.
    status: int
    #: Multipart fields of a transcription; the file as {"filename", "content_type", "size"}.
    form: dict[str, Any] | None = None
    chat: ChatRequest | None = None

    def header(self, name: str) -> str | None:
        """A request header, looked up case-insensitively as HTTP intends."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


#: Decides a chat completion when the script is empty. It may return an awaitable, to block on
#: a test's event.
Responder = Callable[[ChatRequest], Step | Awaitable[Step]]


# -- the server ---------------------------------------------------------------------------------


class FakeLLM:
    """An aiohttp server answering ``/v1/chat/completions``, ``/audio/transcriptions``,
    ``/embeddings`` and ``/models`` like OpenAI.

    Chat completions take the next scripted step (:meth:`reply`, :meth:`call_tools`,
    :meth:`fail`…); with the script empty, ``responder`` decides, and without one the fake
    answers ``default_reply``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        delay: float = 0.0,
        responder: Responder | None = None,
        default_reply: str = DEFAULT_REPLY,
        transcription: str = DEFAULT_TRANSCRIPTION,
        embedding_dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS,
        models: Sequence[str] = DEFAULT_MODELS,
        on_request: Callable[[Recorded], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        #: Seconds added to every answer (the ``delay`` argument); benchmarks mimic a provider.
        self.base_delay = delay
        self.responder = responder
        self.default_reply = default_reply
        self.transcription = transcription
        self.embedding_dimensions = embedding_dimensions
        self.models = list(models)
        self.on_request = on_request
        self.requests: list[Recorded] = []
        #: Exceptions raised by ``responder`` (each answered as a 500).
        self.responder_errors: list[BaseException] = []
        self.in_flight = 0
        #: The most requests handled at once: proof that delayed answers overlap.
        self.max_in_flight = 0
        # Floats in the chat script are delays that apply to the next step taken.
        self._script: deque[Step | float] = deque()
        self._transcripts: deque[Step] = deque()
        self._embedding_failures: deque[Step] = deque()
        self._call_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeLLM is already running")
        # Fresh primitives: they bind to the event loop that first uses them.
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_post("/v1/chat/completions", self._on_chat)
        app.router.add_post("/v1/audio/transcriptions", self._on_transcription)
        app.router.add_post("/v1/embeddings", self._on_embeddings)
        app.router.add_get("/v1/models", self._on_models)
        app.router.add_get("/v1/models/{model}", self._on_models)
        app.router.add_route("*", "/{tail:.*}", self._on_other)
        # Delays and hangs wake up on stop(), so in-flight handlers end at once.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=1024)
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

    async def __aenter__(self) -> FakeLLM:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The server's root, e.g. ``http://127.0.0.1:54321``."""
        if self._bound_port is None:
            raise RuntimeError("FakeLLM is not started: await start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._bound_port}"

    @property
    def base_url(self) -> str:
        """What the ``openai`` client takes as ``base_url``: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    # -- scripting ------------------------------------------------------------------------------

    def script(self, *steps: Step) -> None:
        """Answer the next chat completions with these, in order."""
        self._script.extend(steps)

    def reply(
        self,
        text: str,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        finish_reason: str | None = None,
    ) -> None:
        self.script(
            Step(
                text=text,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                finish_reason=finish_reason,
            )
        )

    def call_tools(
        self,
        *calls: ToolCall,
        text: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        """One assistant message with these tool calls (several: parallel tool calls)."""
        if not calls:
            raise ValueError("call_tools needs at least one ToolCall")
        self.script(
            Step(
                text=text,
                tool_calls=calls,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        )

    def malformed_tool_call(self, name: str, raw_arguments: str) -> None:
        """A tool call whose ``arguments`` is ``raw_arguments`` verbatim (invalid JSON, say)."""
        self.script(Step(tool_calls=(ToolCall(name, raw_arguments),)))

    def garbage(self, body: str = "<html>502 Bad Gateway</html>") -> None:
        """Answer the next chat completion with 200 and a body that is not a completion."""
        self.script(Step(raw=body))

    def empty(self) -> None:
        """``"content": ""`` and no tool calls, as models sometimes answer."""
        self.script(Step(text=""))

    def text_of_length(self, n: int, *, finish_reason: str | None = None) -> None:
        """A reply of exactly ``n`` characters (to test splitting and length limits)."""
        repeats = n // len(_FILLER) + 1
        self.script(Step(text=(_FILLER * repeats)[:n], finish_reason=finish_reason))

    def fail(
        self,
        status: int = 500,
        *,
        retry_after: float | None = None,
        message: str | None = None,
        code: str | None = None,
        error_type: str | None = None,
    ) -> None:
        """Answer the next chat completion with an OpenAI error (and ``Retry-After`` if given)."""
        self.script(
            Step.failure(
                status, retry_after=retry_after, message=message, code=code, error_type=error_type
            )
        )

    def delay(self, seconds: float) -> None:
        """Delay the next answer (the next scripted step, or the responder's if none follows)."""
        self._script.append(float(seconds))

    def hang(self) -> None:
        """Never answer the next chat completion: the client has to give up."""
        self.script(Step(hang=True))

    def transcribe_as(self, text: str, *, delay: float = 0.0) -> None:
        """The text of the next transcription (then back to ``transcription``)."""
        self._transcripts.append(Step(text=text, delay=delay))

    def fail_transcription(self, status: int = 500, *, retry_after: float | None = None) -> None:
        self._transcripts.append(Step.failure(status, retry_after=retry_after))

    def fail_embeddings(self, status: int = 500, *, retry_after: float | None = None) -> None:
        """Answer the next embeddings request with this error."""
        self._embedding_failures.append(Step.failure(status, retry_after=retry_after))

    @property
    def pending_steps(self) -> int:
        """Scripted chat steps not consumed yet."""
        return sum(1 for item in self._script if isinstance(item, Step))

    def clear(self) -> None:
        """Forget recorded requests, pending scripts and the in-flight peak."""
        self.requests.clear()
        self.responder_errors.clear()
        self._script.clear()
        self._transcripts.clear()
        self._embedding_failures.clear()
        self.max_in_flight = self.in_flight

    # -- what was received ----------------------------------------------------------------------

    @property
    def chat_requests(self) -> list[ChatRequest]:
        """Chat completion requests received, in arrival order, whatever was answered."""
        return [r.chat for r in self.requests if r.chat is not None]

    @property
    def transcriptions(self) -> list[Recorded]:
        return [r for r in self.requests if r.kind == "transcription"]

    @property
    def embeddings(self) -> list[Recorded]:
        return [r for r in self.requests if r.kind == "embedding"]

    # -- waiting --------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[FakeLLM], T], timeout: float = 10.0) -> T:
        """Wait until ``predicate(self)`` is truthy and return its value; TimeoutError if not."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                return await self._changed.wait_for(lambda: predicate(self))
        except TimeoutError:
            raise TimeoutError(
                f"FakeLLM: condition not met within {timeout}s; {self._summary()}"
            ) from None

    async def wait_for_requests(
        self, n: int, timeout: float = 5.0, *, kind: str | None = None
    ) -> list[Recorded]:
        """Wait until at least ``n`` requests (of ``kind``, if given) arrived; returns them."""

        def matching(fake: FakeLLM) -> list[Recorded]:
            return [r for r in fake.requests if kind is None or r.kind == kind]

        try:
            await self.wait_for(lambda fake: len(matching(fake)) >= n, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"FakeLLM: expected at least {n} {kind or ''} requests within {timeout}s, "
                f"got {len(matching(self))}; {self._summary()}"
            ) from None
        return matching(self)

    def _summary(self) -> str:
        last = "; ".join(f"{r.kind} {r.path} -> {r.status}" for r in self.requests[-5:])
        return f"received {len(self.requests)} requests (last: {last or 'none'})"

    # -- handlers -------------------------------------------------------------------------------

    async def _on_chat(self, request: web.Request) -> web.StreamResponse:
        received_at = time.time()
        with self._counting():
            body = _json_object(await request.read())
            chat = ChatRequest(body, dict(request.headers), received_at) if body else None
            step = self._auth_failure(request) or _chat_problem(body)
            extra = 0.0
            if step is None:
                assert chat is not None  # validated
                step, extra = self._next_scripted()
                if step is None:
                    step = await self._dynamic_step(chat)
            await self._record(request, received_at, "chat", step, json=body, chat=chat)
            if not 200 <= step.status < 300 or step.hang:
                return await self._answer(step, extra)
            assert chat is not None
            if step.raw is not None:
                return await self._answer(step, extra, step.raw)
            return await self._answer(step, extra, self._completion(chat, step))

    async def _on_transcription(self, request: web.Request) -> web.StreamResponse:
        received_at = time.time()
        with self._counting():
            fields: dict[str, Any] = {}
            if request.content_type == "multipart/form-data":
                for name, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        fields[name] = {
                            "filename": value.filename,
                            "content_type": value.content_type,
                            "size": len(value.file.read()),
                        }
                    else:
                        fields[name] = value
            step = self._auth_failure(request) or _transcription_problem(fields)
            if step is None:
                step = (
                    self._transcripts.popleft()
                    if self._transcripts
                    else Step(text=self.transcription)
                )
            await self._record(request, received_at, "transcription", step, form=fields)
            if not 200 <= step.status < 300:
                return await self._answer(step)
            return await self._answer(step, 0.0, _transcription_body(step.text or "", fields))

    async def _on_embeddings(self, request: web.Request) -> web.StreamResponse:
        received_at = time.time()
        with self._counting():
            body = _json_object(await request.read())
            texts = _embedding_inputs(body)
            step = self._auth_failure(request)
            if step is None and self._embedding_failures:
                step = self._embedding_failures.popleft()
            if step is None and texts is None:
                step = _invalid("input must be a non-empty string or array", param="input")
            dimensions = (body or {}).get("dimensions", self.embedding_dimensions)
            if step is None and not (isinstance(dimensions, int) and dimensions > 0):
                step = _invalid("dimensions must be a positive integer", param="dimensions")
            step = step or Step()
            await self._record(request, received_at, "embedding", step, json=body)
            if step.status != 200:
                return await self._answer(step)
            assert body is not None
            assert texts is not None
            as_base64 = body.get("encoding_format") == "base64"
            data = [
                {
                    "object": "embedding",
                    "index": index,
                    "embedding": _encode_vector(embedding_vector(text, dimensions), as_base64),
                }
                for index, text in enumerate(texts)
            ]
            tokens = sum(estimate_tokens(text) for text in texts)
            return await self._answer(
                step,
                0.0,
                {
                    "object": "list",
                    "data": data,
                    "model": str(body.get("model", "")),
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

    async def _on_models(self, request: web.Request) -> web.StreamResponse:
        received_at = time.time()
        with self._counting():
            step = self._auth_failure(request)
            wanted = request.match_info.get("model")
            if step is None and wanted is not None and wanted not in self.models:
                step = Step.failure(404, message=f"The model '{wanted}' does not exist")
            step = step or Step()
            await self._record(request, received_at, "models", step)
            if step.status != 200:
                return await self._answer(step)
            cards = [_model_card(model) for model in self.models if wanted in (None, model)]
            payload = cards[0] if wanted else {"object": "list", "data": cards}
            return await self._answer(step, 0.0, payload)

    async def _on_other(self, request: web.Request) -> web.StreamResponse:
        received_at = time.time()
        with self._counting():
            body = _json_object(await request.read())
            step = _invalid(f"Invalid URL ({request.method} {request.path})", status=404)
            await self._record(request, received_at, "other", step, json=body)
            return await self._answer(step)

    # -- helpers --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _counting(self) -> Iterator[None]:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1

    def _auth_failure(self, request: web.Request) -> Step | None:
        if self.api_key is None:
            return None
        header = request.headers.get("Authorization", "")
        if header == f"Bearer {self.api_key}":
            return None
        if not header:
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return Step(status=401, error=openai_error(message))
        return Step.failure(401)

    def _next_scripted(self) -> tuple[Step | None, float]:
        extra = 0.0
        while self._script:
            item = self._script.popleft()
            if isinstance(item, Step):
                return item, extra
            extra += item
        return None, extra

    async def _dynamic_step(self, chat: ChatRequest) -> Step:
        if self.responder is None:
            return Step(text=self.default_reply)
        try:
            result = self.responder(chat)
            return await result if inspect.isawaitable(result) else result
        except Exception as exc:  # a test's bug should reach the test, not kill the server
            self.responder_errors.append(exc)
            return Step.failure(500, message=f"FakeLLM responder raised {exc!r}")

    def _completion(self, chat: ChatRequest, step: Step) -> dict[str, Any]:
        tool_calls: list[dict[str, Any]] = [
            {
                "id": call.id or f"call_fake{next(self._call_ids):06d}",
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": call.arguments
                    if isinstance(call.arguments, str)
                    else json.dumps(call.arguments, ensure_ascii=False),
                },
            }
            for call in step.tool_calls
        ]
        message: dict[str, Any] = {
            "role": "assistant",
            "content": step.text,
            "refusal": None,
            "annotations": [],
        }
        if tool_calls:
            message["tool_calls"] = tool_calls
        prompt_tokens = step.prompt_tokens
        if prompt_tokens is None:
            tools = json.dumps(chat.tools, ensure_ascii=False) if chat.tools else ""
            prompt_tokens = estimate_tokens(chat.text() + tools)
        completion_tokens = step.completion_tokens
        if completion_tokens is None:
            completion_tokens = estimate_tokens(
                (step.text or "")
                + "".join(c["function"]["name"] + c["function"]["arguments"] for c in tool_calls)
            )
        return {
            "id": f"chatcmpl-fake{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": chat.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": step.finish_reason or ("tool_calls" if tool_calls else "stop"),
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }

    async def _record(
        self,
        request: web.Request,
        received_at: float,
        kind: str,
        step: Step,
        *,
        json: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        chat: ChatRequest | None = None,
    ) -> None:
        recorded = Recorded(
            method=request.method,
            path=request.path,
            headers=chat.headers if chat is not None else dict(request.headers),
            json=json,
            received_at=received_at,
            kind=kind,
            status=0 if step.hang else step.status,
            form=form,
            chat=chat,
        )
        self.requests.append(recorded)
        if self.on_request is not None:
            self.on_request(recorded)
        async with self._changed:
            self._changed.notify_all()

    async def _answer(
        self, step: Step, extra_delay: float = 0.0, payload: dict[str, Any] | str | None = None
    ) -> web.Response:
        if step.hang:
            await self._stopping.wait()
            return _json_response(503, {"error": openai_error("FakeLLM stopped")}, None)
        delay = self.base_delay + extra_delay + step.delay
        if delay > 0:
            # Sleep, but wake up when the server stops so shutdown never waits for a stall.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        if step.error is not None:
            payload = {"error": dict(step.error)}
        return _json_response(step.status, payload if payload is not None else {}, step.headers)


# -- OpenAI's shapes ----------------------------------------------------------------------------


def estimate_tokens(text: str) -> int:
    """A deterministic token estimate: about four characters per token, as OpenAI suggests."""
    return math.ceil(len(text) / 4)


def embedding_vector(text: str, dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS) -> list[float]:
    """The unit vector the fake answers for ``text``: same text, same vector, in any process.

    A hashed bag of words (each word, lower-cased without accents, adds ±1 to one hashed
    dimension), so that texts sharing words are close, as with a real embedding model, and recall
    tests can tell a related memory from an unrelated one. Not semantic: synonyms are strangers.
    """
    values = [0.0] * dimensions
    plain = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    for word in re.findall(r"[a-z0-9]{3,}", plain):
        digest = hashlib.sha256(word.encode()).digest()
        index = int.from_bytes(digest[:4], "little") % dimensions
        values[index] += 1.0 if digest[4] & 1 else -1.0
    if not any(values):
        # No words (punctuation, emoji): still a stable unit vector of its own.
        for block in itertools.count():
            if block * 32 >= dimensions:
                break
            digest = hashlib.sha256(f"{block}:{text}".encode()).digest()
            for offset, byte in enumerate(digest[: dimensions - block * 32]):
                values[block * 32 + offset] = (byte - 127.5) / 127.5
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _encode_vector(vector: list[float], as_base64: bool) -> list[float] | str:
    if not as_base64:
        return vector
    # The SDK asks for base64 by default and decodes little-endian float32, like OpenAI sends.
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _json_response(
    status: int, payload: dict[str, Any] | str, headers: Mapping[str, str] | None
) -> web.Response:
    all_headers = {"x-request-id": f"req_fake{uuid.uuid4().hex[:24]}", **(headers or {})}
    if isinstance(payload, str):
        return web.Response(status=status, text=payload, headers=all_headers)
    return web.Response(
        status=status,
        body=json.dumps(payload, ensure_ascii=False).encode(),
        content_type="application/json",
        headers=all_headers,
    )


def _invalid(message: str, *, param: str | None = None, status: int = 400) -> Step:
    return Step(status=status, error=openai_error(message, param=param))


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _chat_problem(body: dict[str, Any] | None) -> Step | None:
    if body is None:
        return _invalid("The request body must be a JSON object.")
    if body.get("stream") is True:
        return Step(
            status=400,
            error=openai_error(
                "FakeLLM does not stream: send stream=false.",
                param="stream",
                code="unsupported_value",
            ),
        )
    if not isinstance(body.get("model"), str) or not body["model"]:
        return _invalid("you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _invalid("messages must be a non-empty array", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return _invalid(f"messages[{index}] needs a role", param=f"messages[{index}]")
    tools = body.get("tools")
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, dict) and _tool_name(t) for t in tools)
    ):
        return _invalid("tools must be an array of function tools with names", param="tools")
    return None


def _transcription_problem(fields: dict[str, Any]) -> Step | None:
    if not isinstance(fields.get("file"), dict):
        return _invalid("file is required (multipart/form-data)", param="file")
    if not fields.get("model"):
        return _invalid("you must provide a model parameter", param="model")
    return None


def _transcription_body(text: str, fields: dict[str, Any]) -> dict[str, Any] | str:
    response_format = fields.get("response_format") or "json"
    if response_format == "text":
        return text
    if response_format in ("srt", "vtt"):
        cue = "00:00:00,000 --> 00:00:01,000"
        if response_format == "vtt":
            return f"WEBVTT\n\n{cue.replace(',', '.')}\n{text}\n"
        return f"1\n{cue}\n{text}\n"
    if response_format == "verbose_json":
        language = str(fields.get("language") or "portuguese")
        return {"task": "transcribe", "language": language, "duration": 1.0, "text": text}
    return {"text": text}


def _embedding_inputs(body: dict[str, Any] | None) -> list[str] | None:
    raw = (body or {}).get("input")
    if isinstance(raw, str):
        items: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(item, int) for item in raw):
        items = [raw]  # one input given as token ids
    elif isinstance(raw, list):
        items = raw
    else:
        return None
    texts = [item if isinstance(item, str) else json.dumps(item) for item in items]
    return texts if texts and all(texts) else None


def _model_card(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "atende-fake"}


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _tool_name(tool: dict[str, Any]) -> str:
    function = tool.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    return name if isinstance(name, str) else ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        ).strip()
    return ""
