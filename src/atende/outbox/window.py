"""WhatsApp's 24-hour customer-service window: free-form messages only within 24 hours of the
customer's last message; outside it, only pre-approved templates."""

from __future__ import annotations

from datetime import datetime, timedelta

from atende.channels.types import OutboundContent, TemplateContent

WINDOW = timedelta(hours=24)
#: How far ahead of this process's clock a stored time may be (another process's clock).
CLOCK_SKEW = timedelta(minutes=5)
#: Channels that enforce the window (the sandbox does not).
WINDOWED_KINDS = frozenset({"whatsapp"})

OUTSIDE_WINDOW = (
    "outside the 24-hour customer service window: only templates may be sent "
    "until the customer writes again"
)


def refusal(
    channel_kind: str, content: OutboundContent, last_inbound_at: datetime | None, now: datetime
) -> str | None:
    """Why this send must not go out, or None if it may."""
    if channel_kind not in WINDOWED_KINDS or isinstance(content, TemplateContent):
        return None
    if last_inbound_at is None or now - last_inbound_at > WINDOW:
        return OUTSIDE_WINDOW
    if last_inbound_at - now > CLOCK_SKEW:
        # No customer wrote in the future: a stamp from there (stored before provider stamps
        # were clamped to their arrival) would hold the window open for as long as it says.
        return OUTSIDE_WINDOW
    return None
