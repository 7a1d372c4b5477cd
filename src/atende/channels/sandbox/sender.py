"""The sandbox channel's outbound side: delivery is the outbox row itself; nothing leaves."""

from __future__ import annotations

import uuid

from atende.channels.types import ChannelRuntime, OutboundContent, Recipient, SendResult


class SandboxSender:
    async def send(
        self, channel: ChannelRuntime, to: Recipient, content: OutboundContent
    ) -> SendResult:
        return SendResult(f"sandbox.out.{uuid.uuid4().hex}")

    async def mark_read(
        self, channel: ChannelRuntime, provider_message_id: str, *, typing: bool
    ) -> None:
        return None
