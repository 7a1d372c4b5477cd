"""The transcriber against a tiny OpenAI-compatible ``/audio/transcriptions`` server over HTTP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from atende.assistant.voice import (
    VOICE_FALLBACK_REPLY,
    Transcriber,
    TranscriptionFailed,
    audio_filename,
)

API_KEY = "sk-test-voice"
AUDIO = b"OggS\x00\x02voice-note-bytes" + bytes(range(256))
SPOKEN = "Quero a segunda via do boleto"


@dataclass
class Received:
    fields: dict[str, str]
    filename: str | None
    content_type: str | None
    data: bytes
    authorization: str | None


@dataclass
class TranscriptionServer:
    """Answers each request with the next scripted handler result; records what it received."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[Callable[[], web.StreamResponse]] = field(default_factory=list)
    #: Set at teardown so a stalled request ends with the test.
    released: asyncio.Event = field(default_factory=asyncio.Event)
    stall: bool = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        fields: dict[str, str] = {}
        upload: web.FileField | None = None
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                upload = value
            else:
                fields[name] = str(value)
        self.received.append(
            Received(
                fields=fields,
                filename=upload.filename if upload else None,
                content_type=upload.content_type if upload else None,
                data=upload.file.read() if upload else b"",
                authorization=request.headers.get("Authorization"),
            )
        )
        if self.stall:
            await self.released.wait()
        if self.answers:
            return self.answers.pop(0)()
        return web.json_response({"text": f"  {SPOKEN}  "})


@pytest.fixture
async def server() -> AsyncIterator[TranscriptionServer]:
    state = TranscriptionServer()
    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", state.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    yield state
    state.released.set()
    await runner.cleanup()


@pytest.fixture
async def make_transcriber() -> AsyncIterator[Callable[..., Transcriber]]:
    made: list[Transcriber] = []

    def make(base_url: str, **options: Any) -> Transcriber:
        transcriber = Transcriber(api_key=API_KEY, base_url=base_url, **options)
        made.append(transcriber)
        return transcriber

    yield make
    for transcriber in made:
        await transcriber.aclose()


async def failure(transcriber: Transcriber, audio: bytes = AUDIO) -> TranscriptionFailed:
    with pytest.raises(TranscriptionFailed) as caught:
        await transcriber.transcribe(audio, filename="audio.ogg", mime_type="audio/ogg")
    return caught.value


# -- success ----------------------------------------------------------------------------------


async def test_transcribe_sends_model_language_and_the_file_and_returns_stripped_text(
    server: TranscriptionServer, make_transcriber: Callable[..., Transcriber]
) -> None:
    transcriber = make_transcriber(server.url)

    text = await transcriber.transcribe(
        AUDIO, filename="audio.ogg", mime_type="audio/ogg; codecs=opus"
    )

    assert text == SPOKEN
    [request] = server.received
    assert request.fields["model"] == "whisper-1"
    assert request.fields["language"] == "pt"
    assert request.fields["response_format"] == "json"
    assert request.data == AUDIO
    assert request.filename == "audio.ogg"
    assert request.content_type == "audio/ogg; codecs=opus"
    assert request.authorization == f"Bearer {API_KEY}"


async def test_model_and_language_are_configurable(
    server: TranscriptionServer, make_transcriber: Callable[..., Transcriber]
) -> None:
    transcriber = make_transcriber(server.url, model="whisper-large-v3", language="es")

    await transcriber.transcribe(AUDIO, filename="a.mp3", mime_type="audio/mpeg")

    assert server.received[0].fields["model"] == "whisper-large-v3"
    assert server.received[0].fields["language"] == "es"


# -- failures ---------------------------------------------------------------------------------


async def test_server_error_is_retried_once_then_fails_with_the_status(
    server: TranscriptionServer, make_transcriber: Callable[..., Transcriber]
) -> None:
    def broken() -> web.StreamResponse:
        # retry-after-ms keeps the SDK's pause between attempts short.
        return web.json_response(
            {"error": {"message": "boom", "type": "server_error"}},
            status=500,
            headers={"retry-after-ms": "10"},
        )

    server.answers = [broken, broken]
    transcriber = make_transcriber(server.url)  # max_retries=1 by default

    error = await failure(transcriber)

    assert (error.reason, error.http_status) == (TranscriptionFailed.HTTP_ERROR, 500)
    assert len(server.received) == 2


async def test_client_error_is_not_retried(
    server: TranscriptionServer, make_transcriber: Callable[..., Transcriber]
) -> None:
    server.answers = [
        lambda: web.json_response(
            {"error": {"message": "Invalid file format.", "type": "invalid_request_error"}},
            status=400,
        )
    ]
    transcriber = make_transcriber(server.url)

    error = await failure(transcriber)

    assert (error.reason, error.http_status) == (TranscriptionFailed.HTTP_ERROR, 400)
    assert len(server.received) == 1


async def test_a_stalled_provider_times_out(
    server: TranscriptionServer, make_transcriber: Callable[..., Transcriber]
) -> None:
    server.stall = True
    transcriber = make_transcriber(server.url, timeout_seconds=0.2, max_retries=0)

    error = await failure(transcriber)

    assert error.reason == TranscriptionFailed.TIMEOUT
    assert error.http_status is None


async def test_a_long_retry_after_cannot_hold_the_turn(
    server: TranscriptionServer, make_transcriber: Callable[..., Transcriber]
) -> None:
    """The SDK would wait a minute before its retry; the overall deadline ends it first."""
    server.answers = [
        lambda: web.json_response(
            {"error": {"message": "slow down", "type": "rate_limit"}},
            status=429,
            headers={"retry-after": "60"},
        )
    ]
    transcriber = make_transcriber(server.url, timeout_seconds=0.2, max_retries=1)

    started = asyncio.get_running_loop().time()
    error = await failure(transcriber)

    assert error.reason == TranscriptionFailed.TIMEOUT
    assert asyncio.get_running_loop().time() - started < 10
    assert len(server.received) == 1


async def test_empty_transcription_fails(
    server: TranscriptionServer, make_transcriber: Callable[..., Transcriber]
) -> None:
    server.answers = [lambda: web.json_response({"text": " \n "})]
    transcriber = make_transcriber(server.url)

    error = await failure(transcriber)

    assert error.reason == TranscriptionFailed.EMPTY_TEXT


async def test_answer_without_text_is_an_invalid_response(
    server: TranscriptionServer, make_transcriber: Callable[..., Transcriber]
) -> None:
    server.answers = [lambda: web.json_response({"segments": []})]
    transcriber = make_transcriber(server.url)

    error = await failure(transcriber)

    assert error.reason == TranscriptionFailed.INVALID_RESPONSE


async def test_empty_audio_never_reaches_the_provider(
    server: TranscriptionServer, make_transcriber: Callable[..., Transcriber]
) -> None:
    transcriber = make_transcriber(server.url)

    error = await failure(transcriber, audio=b"")

    assert error.reason == TranscriptionFailed.EMPTY_AUDIO
    assert server.received == []


async def test_unreachable_provider_fails(make_transcriber: Callable[..., Transcriber]) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transcriber = make_transcriber(f"http://127.0.0.1:{port}/v1", max_retries=0)

    error = await failure(transcriber)

    assert error.reason == TranscriptionFailed.UNREACHABLE


async def test_failure_message_carries_no_audio_nor_text(
    server: TranscriptionServer, make_transcriber: Callable[..., Transcriber]
) -> None:
    server.answers = [
        lambda: web.json_response({"error": {"message": SPOKEN}}, status=422),
    ]
    transcriber = make_transcriber(server.url)

    error = await failure(transcriber)

    assert str(error) == "transcription failed: http_error (HTTP 422)"


# -- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mime_type", "expected"),
    [
        ("audio/ogg; codecs=opus", "audio.ogg"),
        ("audio/mpeg", "audio.mp3"),
        ("audio/mp4", "audio.m4a"),
        ("AUDIO/AMR", "audio.amr"),
        (None, "audio.ogg"),
    ],
)
def test_audio_filename_matches_the_mime_type(mime_type: str | None, expected: str) -> None:
    assert audio_filename(mime_type) == expected


def test_fallback_reply_asks_for_text_in_portuguese() -> None:
    assert "áudio" in VOICE_FALLBACK_REPLY
    assert "escrever" in VOICE_FALLBACK_REPLY
