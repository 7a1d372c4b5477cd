"""The sandbox channel's outbound side: delivery is the outbox row itself; nothing leaves."""

from __future__ import annotations

import uuid

from atende.channels.types import (
    ChannelRuntime,
    FetchedMedia,
    MediaFetchError,
    OutboundContent,
    Recipient,
    SendResult,
)


class SandboxSender:
    async def send(
        self, channel: ChannelRuntime, to: Recipient, content: OutboundContent
    ) -> SendResult:
        return SendResult(f"sandbox.out.{uuid.uuid4().hex}")

    async def mark_read(
        self, channel: ChannelRuntime, provider_message_id: str, *, typing: bool
    ) -> None:
        return None

    async def fetch_media(
        self, channel: ChannelRuntime, media_id: str, *, max_bytes: int
    ) -> FetchedMedia:
        # Sandbox messages are typed text: there is no provider holding files to download.
        raise MediaFetchError(
            f"channel {channel.slug!r} is a sandbox and has no media",
            reason=MediaFetchError.NOT_SUPPORTED,
        )
