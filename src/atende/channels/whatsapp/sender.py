"""The WhatsApp Cloud API implementation of the outbound channel port (:class:`ChannelSender`)."""

from __future__ import annotations

from atende.channels.types import (
    ChannelRuntime,
    FetchedMedia,
    OutboundContent,
    Recipient,
    SendResult,
)
from atende.channels.whatsapp.client import GraphClient
from atende.channels.whatsapp.payloads import build_message


class WhatsAppSender:
    """Renders outbound content as Graph API payloads and posts them.

    ``send`` raises :class:`SendError` for provider failures and
    :class:`~atende.channels.whatsapp.payloads.PayloadLimitError` for content WhatsApp would
    refuse anyway (a text over 4096 characters: the outbox splits with ``split_text`` before it
    writes rows, so one row is one message).
    """

    def __init__(self, client: GraphClient | None = None) -> None:
        self._client = client if client is not None else GraphClient()

    @property
    def client(self) -> GraphClient:
        return self._client

    async def send(
        self, channel: ChannelRuntime, to: Recipient, content: OutboundContent
    ) -> SendResult:
        payload = build_message(to, content)
        provider_message_id = await self._client.post_message(channel, payload)
        return SendResult(provider_message_id)

    async def mark_read(
        self, channel: ChannelRuntime, provider_message_id: str, *, typing: bool
    ) -> None:
        await self._client.mark_read(channel, provider_message_id, typing=typing)

    async def fetch_media(
        self, channel: ChannelRuntime, media_id: str, *, max_bytes: int
    ) -> FetchedMedia:
        return await self._client.download_media(channel, media_id, max_bytes=max_bytes)

    async def close(self) -> None:
        # Closing a client shared with someone else is harmless: it reopens its pool on next use.
        await self._client.close()
