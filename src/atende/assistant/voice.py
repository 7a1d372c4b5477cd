"""Voice notes to text, through any OpenAI-compatible ``/audio/transcriptions`` endpoint.

Brazilian customers send voice notes as often as text, so a turn that can read them answers far
more people. Transcription is optional: without a provider (or when it fails) the assistant asks
the customer to write instead (:data:`VOICE_FALLBACK_REPLY`) rather than ignoring the message.

Core code: it knows nothing about channels. The caller downloads the audio (``fetch_media`` on
the channel's sender) and hands the bytes over. Neither the audio nor the transcript ever reaches
a log line or an exception message: both are a customer's words.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import aiohttp
import openai

from atende.kit.logging import get_logger

#: Sent when a voice note cannot be transcribed (no provider configured, or the provider failed).
VOICE_FALLBACK_REPLY = (
    "Recebi seu áudio, mas ainda não consigo ouvir mensagens de voz por aqui. 🙏 "
    "Pode me escrever sua dúvida?"
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "whisper-1"

#: Room for the SDK's pause between attempts inside the overall deadline (its first backoff is
#: at most 0.5 s); a provider asking for a longer Retry-After is treated as a timeout.
_BACKOFF_ALLOWANCE_SECONDS = 1.0

#: File extensions the transcription endpoint recognises, by the MIME types WhatsApp sends.
_EXTENSIONS = {
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
    "audio/aac": "aac",
    "audio/amr": "amr",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/webm": "webm",
    "audio/flac": "flac",
}

_log = get_logger(__name__)


class TranscriptionFailed(Exception):
    """A voice note could not be turned into text; the caller falls back to asking for text.

    ``reason`` is a stable code for logs and metrics; the message never carries audio or text.
    """

    #: The provider took longer than the deadline (or asked to be retried too late).
    TIMEOUT = "timeout"
    #: The provider could not be reached (DNS, refused connection, TLS…).
    UNREACHABLE = "unreachable"
    #: The provider answered an HTTP error; see ``http_status``.
    HTTP_ERROR = "http_error"
    #: The provider answered 2xx with something that is not a transcription.
    INVALID_RESPONSE = "invalid_response"
    #: The transcription came back empty: silence, noise, or audio the model could not decode.
    EMPTY_TEXT = "empty_text"
    #: There were no bytes to send.
    EMPTY_AUDIO = "empty_audio"

    def __init__(self, reason: str, *, http_status: int | None = None) -> None:
        detail = f"transcription failed: {reason}"
        if http_status is not None:
            detail += f" (HTTP {http_status})"
        super().__init__(detail)
        self.reason = reason
        self.http_status = http_status


class SpeechToText(Protocol):
    """What a turn needs from a transcriber, so tests can hand it a stand-in."""

    async def transcribe(self, audio: bytes, *, filename: str, mime_type: str) -> str: ...


def audio_filename(mime_type: str | None, stem: str = "audio") -> str:
    """A filename for audio that came without one (WhatsApp voice notes never have one).

    Transcription endpoints pick the decoder from the extension, so it has to match the bytes;
    ``audio/ogg; codecs=opus``, WhatsApp's voice-note type, becomes ``audio.ogg``; so does an
    unknown type, since voice notes are what arrives without one.
    """
    essence = (mime_type or "").split(";", 1)[0].strip().lower()
    return f"{stem}.{_EXTENSIONS.get(essence, 'ogg')}"


class Transcriber:
    """Transcribes audio with the official ``openai`` client on an aiohttp transport.

    ``timeout_seconds`` bounds each attempt (the SDK's timeout) and, with the retries, the whole
    call: a voice note holds a customer's turn, so a slow provider must fail fast and let the
    fallback reply go out. ``max_retries`` is the SDK's own retry on connection errors, 408, 409,
    429 and 5xx.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        model: str = DEFAULT_MODEL,
        language: str = "pt",
        timeout_seconds: float = 30.0,
        max_retries: int = 1,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._model = model
        self._language = language
        self._deadline = timeout_seconds * (max_retries + 1) + (
            _BACKOFF_ALLOWANCE_SECONDS * max_retries
        )
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_seconds,
            max_retries=max_retries,
            # aiohttp rather than httpx, for the reason given in channels/whatsapp/client.py:
            # httpx's pool stalls under many concurrent requests.
            http_client=openai.DefaultAioHttpClient(),
        )

    @property
    def model(self) -> str:
        return self._model

    async def transcribe(self, audio: bytes, *, filename: str, mime_type: str) -> str:
        """The text spoken in ``audio``, stripped. Raises :class:`TranscriptionFailed`."""
        if not audio:
            raise self._failed(TranscriptionFailed.EMPTY_AUDIO)
        try:
            async with asyncio.timeout(self._deadline):
                result = await self._client.audio.transcriptions.create(
                    file=(filename, audio, mime_type),
                    model=self._model,
                    language=self._language,
                    response_format="json",
                )
        except (TimeoutError, openai.APITimeoutError) as exc:
            reason = (
                TranscriptionFailed.UNREACHABLE if _refused(exc) else TranscriptionFailed.TIMEOUT
            )
            raise self._failed(reason, exc) from exc
        except openai.APIConnectionError as exc:
            raise self._failed(TranscriptionFailed.UNREACHABLE, exc) from exc
        except openai.APIStatusError as exc:
            raise self._failed(
                TranscriptionFailed.HTTP_ERROR, exc, http_status=exc.status_code
            ) from exc
        except openai.OpenAIError as exc:
            raise self._failed(TranscriptionFailed.INVALID_RESPONSE, exc) from exc
        # The SDK builds response models without validation: check the field is really there.
        text: object = getattr(result, "text", None)
        if not isinstance(text, str):
            raise self._failed(TranscriptionFailed.INVALID_RESPONSE)
        text = text.strip()
        if not text:
            raise self._failed(TranscriptionFailed.EMPTY_TEXT)
        return text

    async def aclose(self) -> None:
        """Close the connection pool; the transcriber is not usable afterwards."""
        await self._client.close()

    def _failed(
        self,
        reason: str,
        exc: BaseException | None = None,
        *,
        http_status: int | None = None,
    ) -> TranscriptionFailed:
        _log.warning(
            "transcription_failed",
            reason=reason,
            http_status=http_status,
            error=type(exc).__name__ if exc is not None else None,
            model=self._model,
        )
        return TranscriptionFailed(reason, http_status=http_status)


def _refused(exc: BaseException) -> bool:
    """Whether a "timeout" was really a connection that failed at once.

    The SDK's aiohttp transport reports every connection error, a refused one included, as a
    connect timeout; the aiohttp error underneath tells them apart.
    """
    seen: BaseException | None = exc
    for _ in range(10):  # the chain is short; the bound guards against a cycle
        if seen is None:
            return False
        if isinstance(seen, aiohttp.ClientConnectorError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
