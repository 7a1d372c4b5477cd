"""WhatsApp Cloud API webhooks: verify, normalise, record, enqueue after commit, answer.

Nothing slow happens here: no engine, no provider call. The handler takes the raw ``Request`` (no
Pydantic body model, no dependencies) because this is the hottest path in the product.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from atende.channels.directory import ChannelDirectory
from atende.channels.types import ChannelRuntime, OtherEvent, WebhookBatch
from atende.channels.whatsapp.parse import WebhookPayloadError, parse_webhook
from atende.channels.whatsapp.verify import verify_handshake, verify_signature
from atende.ingest.service import IngestService
from atende.kit.errors import BadRequest, Forbidden, NotFound, Unauthorized
from atende.kit.http import correlation_id, read_capped
from atende.kit.jsonsafe import MAX_DEPTH, too_deep
from atende.kit.logging import get_logger

log = get_logger(__name__)

_OK = b"{}"


def merge_for_channel(
    channel: ChannelRuntime, groups: list[tuple[str | None, WebhookBatch]]
) -> WebhookBatch:
    """One batch for this channel's number. Content for another number (an app subscribed to a
    business account with several numbers) is kept as a provider event, not dropped."""
    own = str(channel.config.get("phone_number_id", ""))
    messages: list[Any] = []
    statuses: list[Any] = []
    others: list[OtherEvent] = []
    for phone_number_id, batch in groups:
        if phone_number_id is None or phone_number_id == own:
            messages.extend(batch.messages)
            statuses.extend(batch.statuses)
            others.extend(batch.others)
        else:
            others.append(
                OtherEvent(
                    "other_phone_number",
                    {
                        "phone_number_id": phone_number_id,
                        "messages": len(batch.messages),
                        "statuses": len(batch.statuses),
                    },
                )
            )
    return WebhookBatch(tuple(messages), tuple(statuses), tuple(others))


def build_router(
    directory: ChannelDirectory, ingest: IngestService, max_body: Callable[[], int]
) -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    async def whatsapp_channel(slug: str) -> ChannelRuntime:
        channel = await directory.by_slug(slug)
        if channel.kind != "whatsapp":
            raise NotFound("unknown channel")
        return channel

    @router.get("/webhooks/whatsapp/{slug}", response_class=PlainTextResponse)
    async def verify(slug: str, request: Request) -> PlainTextResponse:
        """Meta's subscription handshake: echo ``hub.challenge`` when the verify token matches."""
        channel = await whatsapp_channel(slug)
        params = request.query_params
        challenge = verify_handshake(
            params.get("hub.mode"),
            params.get("hub.verify_token"),
            params.get("hub.challenge"),
            channel.secrets.get("verify_token", ""),
        )
        if challenge is None:
            raise Forbidden("verification failed")
        return PlainTextResponse(challenge)

    @router.post("/webhooks/whatsapp/{slug}")
    async def receive(slug: str, request: Request) -> Response:
        """Signed webhook deliveries: messages, statuses and account events."""
        channel = await whatsapp_channel(slug)
        body = await read_capped(request, max_body())
        if not verify_signature(
            channel.secrets.get("app_secret", ""), body, request.headers.get("x-hub-signature-256")
        ):
            raise Unauthorized("invalid signature")
        cid = correlation_id(request)
        with structlog.contextvars.bound_contextvars(correlation_id=cid, channel=channel.slug):
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                log.warning("malformed webhook body", size=len(body), error=str(exc)[:80])
                raise BadRequest("body is not valid JSON") from None
            if too_deep(payload):
                # Nothing real nests like this; refused before anything walks it recursively.
                log.warning("webhook body nested too deeply", size=len(body), limit=MAX_DEPTH)
                raise BadRequest(f"body nests more than {MAX_DEPTH} levels")
            try:
                groups = parse_webhook(payload)
            except WebhookPayloadError as exc:
                log.warning("webhook body is not an object", kind=type(payload).__name__)
                raise BadRequest(str(exc)) from None
            batch = merge_for_channel(channel, groups)
            await ingest.record(channel, batch, correlation_id=cid)
        return Response(_OK, media_type="application/json")

    return router
