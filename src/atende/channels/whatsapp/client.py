"""HTTP client for the WhatsApp Cloud API (Meta Graph API): send, mark as read, upload media.

Built on aiohttp rather than httpx on purpose: one shared ``httpx.AsyncClient`` collapses
under hundreds of concurrent requests (pool timeouts and stalls, encode/httpx#3215), and the
outbox sends exactly that way. aiohttp's connector holds up under that load.

Every failure becomes a :class:`SendError` whose ``transient`` flag tells the outbox whether to
retry. The access token and the recipient never reach a log line or an error message.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from atende.channels.types import ChannelRuntime, SendError
from atende.channels.whatsapp.payloads import build_mark_read
from atende.kit.logging import get_logger

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v23.0"

#: Meta error codes that mean "slow down" or "try again later", whatever the HTTP status
#: (rate limits often come as 400): 4 app rate limit, 80007 WABA rate limit, 130429 throughput,
#: 131048 spam rate limit, 131056 pair rate limit; 2 and 131016 service unavailable, 133004
#: server temporarily unavailable.
TRANSIENT_CODES = frozenset({"4", "80007", "130429", "131048", "131056", "2", "131016", "133004"})

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
        try:
            async with session.post(url, json=json_body, data=form, headers=headers) as response:
                status = response.status
                raw = await response.read()
                response_headers = response.headers
        except TimeoutError as exc:
            # Includes aiohttp's connect/read timeouts. The request may have reached Meta; the
            # outbox retries with the same row, and duplicates are rarer than lost replies.
            raise SendError(
                f"Graph API timed out after {self._timeout.total}s", transient=True
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise SendError(
                f"channel {channel.slug!r} has an invalid graph_url", transient=False
            ) from exc
        except aiohttp.ClientError as exc:
            raise SendError(
                f"Graph API unreachable: {type(exc).__name__}: {exc}", transient=True
            ) from exc

        body = _parse_json(raw)
        if 200 <= status < 300:
            if body is None:
                raise SendError(
                    f"Graph API answered {status} with a body that is not JSON",
                    transient=False,
                    http_status=status,
                )
            return status, body
        error = _error_from_response(status, body, response_headers)
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
        raise error


def _endpoint(channel: ChannelRuntime, edge: str) -> tuple[str, str]:
    phone_number_id = channel.config.get("phone_number_id")
    if not phone_number_id:
        raise SendError(f"channel {channel.slug!r} has no phone_number_id", transient=False)
    token = channel.secrets.get("access_token")
    if not token:
        raise SendError(f"channel {channel.slug!r} has no access_token", transient=False)
    graph_url = str(channel.config.get("graph_url") or DEFAULT_GRAPH_URL).rstrip("/")
    version = str(channel.config.get("api_version") or DEFAULT_API_VERSION).strip("/")
    return f"{graph_url}/{version}/{phone_number_id}/{edge}", token


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
