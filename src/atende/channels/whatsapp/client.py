"""HTTP client for the WhatsApp Cloud API (Meta Graph API): send, mark as read, media in and out.

Built on aiohttp rather than httpx on purpose: one shared ``httpx.AsyncClient`` collapses
under hundreds of concurrent requests (pool timeouts and stalls, encode/httpx#3215), and the
outbox sends exactly that way. aiohttp's connector holds up under that load.

Every failure becomes a :class:`SendError` whose ``transient`` flag tells the outbox whether to
retry. The access token and the recipient never reach a log line or an error message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy

from atende.channels.types import ChannelRuntime, FetchedMedia, MediaFetchError, SendError
from atende.channels.whatsapp.payloads import build_mark_read
from atende.kit.logging import get_logger

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v23.0"

#: Meta error codes that mean "slow down" or "try again later", whatever the HTTP status
#: (rate limits often come as 400): 4 app rate limit, 80007 WABA rate limit, 130429 throughput,
#: 131048 spam rate limit, 131056 pair rate limit; 2 and 131016 service unavailable, 133004
#: server temporarily unavailable.
TRANSIENT_CODES = frozenset({"4", "80007", "130429", "131048", "131056", "2", "131016", "133004"})

#: Meta's media ids are digits; anything outside this set could reshape the URL it goes into.
_MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
#: Enough of an error body to read Meta's error object, without swallowing a huge page.
_ERROR_BODY_LIMIT = 64 * 1024
_CHUNK = 64 * 1024

_log = get_logger(__name__)


class GraphClient:
    """One connection pool to the Graph API, shared by every channel of the process."""

    def __init__(
        self,
        *,
        timeout_seconds: float = 20.0,
        max_connections: int = 200,
        user_agent: str = "atende",
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._max_connections = max_connections
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use because a session binds to the running event loop; there is no
        # await between the check and the assignment, so concurrent first calls share one.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=self._timeout,
                headers={"User-Agent": self._user_agent},
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        """Close the pool. The client stays usable: a later call opens a new one."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # -----------------------------------------------------------------------------------------

    async def post_message(self, channel: ChannelRuntime, payload: dict[str, Any]) -> str:
        """Send one message payload; returns the provider message id (``wamid.…``)."""
        status, body = await self._post(channel, "messages", json_body=payload)
        try:
            message_id = body["messages"][0]["id"]
        except (KeyError, IndexError, TypeError):
            message_id = None
        if not isinstance(message_id, str) or not message_id:
            # Permanent on purpose: Meta answered 2xx, so the message may well be out; a retry
            # could deliver it twice.
            raise SendError(
                f"Graph API answered {status} without a message id",
                transient=False,
                http_status=status,
            )
        return message_id

    async def mark_read(
        self, channel: ChannelRuntime, provider_message_id: str, *, typing: bool
    ) -> None:
        """Mark an inbound message as read, optionally showing the typing indicator."""
        await self._post(
            channel, "messages", json_body=build_mark_read(provider_message_id, typing=typing)
        )

    async def upload_media(
        self, channel: ChannelRuntime, data: bytes, mime_type: str, filename: str
    ) -> str:
        """Upload a file for later sends by id; returns the media id."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime_type)
        form.add_field("file", data, filename=filename, content_type=mime_type)
        status, body = await self._post(channel, "media", form=form)
        media_id = body.get("id") if isinstance(body, dict) else None
        if isinstance(media_id, int):
            media_id = str(media_id)
        if not isinstance(media_id, str) or not media_id:
            raise SendError(
                f"Graph API answered {status} to a media upload without a media id",
                transient=False,
                http_status=status,
            )
        return media_id

    async def download_media(
        self, channel: ChannelRuntime, media_id: str, *, max_bytes: int
    ) -> FetchedMedia:
        """Download a file a customer sent: ask Meta for its URL, then fetch the bytes.

        Both requests carry the channel's token (the URL Meta returns is short-lived, about five
        minutes, and refuses anonymous requests, so it is used at once and never stored). The
        download stops as soon as it would exceed ``max_bytes``, so a huge file never sits in
        memory, and the bytes are checked against the ``sha256`` Meta declares.

        Raises :class:`SendError` (mapped like sends: timeouts, 429, 5xx and throttling codes are
        transient) or :class:`MediaFetchError` (too large, checksum, unusable answer).
        """
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if not _MEDIA_ID.fullmatch(media_id):
            raise MediaFetchError(
                "not a WhatsApp media id", reason=MediaFetchError.INVALID_MEDIA_ID
            )
        base, token = _graph_base(channel)
        headers = {"Authorization": f"Bearer {token}"}
        info = await self._get_media_info(channel, f"{base}/{media_id}", headers)

        url = info.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in {"http", "https"}:
            raise MediaFetchError(
                "Graph API answered a media lookup without a download URL",
                reason=MediaFetchError.INVALID_RESPONSE,
            )
        if urlsplit(base).scheme == "https" and urlsplit(url).scheme != "https":
            # The token goes along with the download: never in clear text when Meta is on TLS.
            raise MediaFetchError(
                "Graph API answered a download URL that is not https",
                reason=MediaFetchError.INVALID_RESPONSE,
            )
        declared_size = _as_int(info.get("file_size"))
        if declared_size is not None and declared_size > max_bytes:
            raise _too_large(max_bytes)

        data, content_type, filename = await self._download(channel, url, headers, max_bytes)

        declared_sha = info.get("sha256")
        sha256 = declared_sha if isinstance(declared_sha, str) and declared_sha else None
        if sha256 is not None and not _sha256_matches(data, sha256):
            raise MediaFetchError(
                "downloaded media does not match the sha256 the Graph API declared",
                reason=MediaFetchError.CHECKSUM_MISMATCH,
            )
        mime_type = info.get("mime_type")
        if not isinstance(mime_type, str) or not mime_type:
            mime_type = content_type or "application/octet-stream"
        return FetchedMedia(data=data, mime_type=mime_type, filename=filename, sha256=sha256)

    # -----------------------------------------------------------------------------------------

    async def _post(
        self,
        channel: ChannelRuntime,
        edge: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: aiohttp.FormData | None = None,
    ) -> tuple[int, Any]:
        url, token = _endpoint(channel, edge)
        headers = {"Authorization": f"Bearer {token}"}
        session = self._get_session()
        # The request may have reached Meta even when it timed out; the outbox retries with the
        # same row, and duplicates are rarer than lost replies.
        with self._transport_errors(channel):
            async with session.post(url, json=json_body, data=form, headers=headers) as response:
                status = response.status
                raw = await response.read()
                response_headers = response.headers

        body = _parse_json(raw)
        if 200 <= status < 300:
            if body is None:
                raise SendError(
                    f"Graph API answered {status} with a body that is not JSON",
                    transient=False,
                    http_status=status,
                )
            return status, body
        raise self._failure(channel, edge, status, body, response_headers)

    async def _get_media_info(
        self, channel: ChannelRuntime, url: str, headers: dict[str, str]
    ) -> dict[str, Any]:
        session = self._get_session()
        with self._transport_errors(channel):
            async with session.get(url, headers=headers) as response:
                status = response.status
                raw = await response.read()
                response_headers = response.headers
        body = _parse_json(raw)
        if not 200 <= status < 300:
            raise self._failure(channel, "media_info", status, body, response_headers)
        if not isinstance(body, dict):
            raise MediaFetchError(
                f"Graph API answered {status} to a media lookup with a body that is not an object",
                reason=MediaFetchError.INVALID_RESPONSE,
                http_status=status,
            )
        return body

    async def _download(
        self, channel: ChannelRuntime, url: str, headers: dict[str, str], max_bytes: int
    ) -> tuple[bytes, str | None, str | None]:
        """The bytes at a media URL, its content type and filename, at most ``max_bytes``."""
        session = self._get_session()
        with self._transport_errors(channel, download=True):
            async with session.get(url, headers=headers) as response:
                status = response.status
                if not 200 <= status < 300:
                    raw, _ = await _read_at_most(response, _ERROR_BODY_LIMIT)
                    raise self._failure(
                        channel, "media_download", status, _parse_json(raw), response.headers
                    )
                if response.content_length is not None and response.content_length > max_bytes:
                    raise _too_large(max_bytes)
                data, complete = await _read_at_most(response, max_bytes)
                if not complete:
                    raise _too_large(max_bytes)
                content_type = (
                    response.content_type if response.headers.get("Content-Type") else None
                )
                filename = (
                    response.content_disposition.filename if response.content_disposition else None
                )
        return data, content_type, filename

    @contextlib.contextmanager
    def _transport_errors(
        self, channel: ChannelRuntime, *, download: bool = False
    ) -> Iterator[None]:
        """Turn aiohttp's failures into :class:`SendError`: the network is worth retrying.

        ``download`` marks a request to a media URL Meta handed out: it is signed, so neither it
        nor an exception text that may quote it goes into the error.
        """
        try:
            yield
        except TimeoutError as exc:
            # Includes aiohttp's connect/read timeouts.
            raise SendError(
                f"Graph API timed out after {self._timeout.total}s", transient=True
            ) from exc
        except aiohttp.InvalidURL as exc:
            detail = (
                "Graph API answered an invalid media URL"
                if download
                else f"channel {channel.slug!r} has an invalid graph_url"
            )
            raise SendError(detail, transient=False) from exc
        except aiohttp.ClientError as exc:
            reason = type(exc).__name__ if download else f"{type(exc).__name__}: {exc}"
            raise SendError(f"Graph API unreachable: {reason}", transient=True) from exc

    def _failure(
        self,
        channel: ChannelRuntime,
        edge: str,
        status: int,
        body: Any,
        headers: CIMultiDictProxy[str],
    ) -> SendError:
        error = _error_from_response(status, body, headers)
        _log.warning(
            "graph_api_error",
            channel_id=channel.id,
            edge=edge,
            http_status=status,
            code=error.code,
            transient=error.transient,
            retry_after=error.retry_after,
            fbtrace_id=_meta_error(body).get("fbtrace_id"),
        )
        return error


def _endpoint(channel: ChannelRuntime, edge: str) -> tuple[str, str]:
    phone_number_id = channel.config.get("phone_number_id")
    if not phone_number_id:
        raise SendError(f"channel {channel.slug!r} has no phone_number_id", transient=False)
    base, token = _graph_base(channel)
    return f"{base}/{phone_number_id}/{edge}", token


def _graph_base(channel: ChannelRuntime) -> tuple[str, str]:
    """The versioned Graph API root of a channel (``…/v23.0``) and its access token."""
    token = channel.secrets.get("access_token")
    if not token:
        raise SendError(f"channel {channel.slug!r} has no access_token", transient=False)
    graph_url = str(channel.config.get("graph_url") or DEFAULT_GRAPH_URL).rstrip("/")
    version = str(channel.config.get("api_version") or DEFAULT_API_VERSION).strip("/")
    return f"{graph_url}/{version}", token


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """Read a body up to ``limit`` bytes; the flag says whether it ended within the limit."""
    buffer = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        if len(buffer) + len(chunk) > limit:
            buffer += chunk[: limit - len(buffer)]
            return bytes(buffer), False
        buffer += chunk
    return bytes(buffer), True


def _too_large(max_bytes: int) -> MediaFetchError:
    return MediaFetchError(
        f"media is larger than the {max_bytes} bytes accepted", reason=MediaFetchError.TOO_LARGE
    )


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _sha256_matches(data: bytes, declared: str) -> bool:
    """Compare with Meta's checksum, which comes hex-encoded or base64-encoded depending on
    where it was read (media lookups, webhooks)."""
    digest = hashlib.sha256(data).digest()
    value = declared.strip()
    candidates: list[bytes] = []
    with contextlib.suppress(ValueError):
        candidates.append(bytes.fromhex(value))
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        with contextlib.suppress(binascii.Error, ValueError):
            candidates.append(decode(value + "=" * (-len(value) % 4)))
    return digest in candidates


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _meta_error(body: Any) -> dict[str, Any]:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _error_from_response(status: int, body: Any, headers: CIMultiDictProxy[str]) -> SendError:
    error = _meta_error(body)
    code = str(error["code"]) if error.get("code") is not None else None
    message = str(error.get("message") or f"HTTP {status}")
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    subcode = error.get("error_subcode")
    detail = f"Graph API {status}: {message}"
    if details and details != message:
        detail += f" ({details})"
    if code is not None:
        detail += f" [code {code}" + (f", subcode {subcode}" if subcode is not None else "") + "]"
    transient = status == 429 or status >= 500 or code in TRANSIENT_CODES
    retry_after = _retry_after(headers.get("Retry-After")) if transient else None
    return SendError(
        detail, transient=transient, http_status=status, code=code, retry_after=retry_after
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)
