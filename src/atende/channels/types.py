"""Provider-neutral types at the channel boundary.

Channel adapters turn provider payloads into these frozen values at the edge (raw provider dicts
never reach the domain), and turn :class:`OutboundContent` into provider payloads on the way out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class MessageType(StrEnum):
    text = "text"
    image = "image"
    audio = "audio"
    voice = "voice"  # an audio recorded as a voice note
    video = "video"
    document = "document"
    sticker = "sticker"
    location = "location"
    contacts = "contacts"
    button_reply = "button_reply"  # interactive reply button chosen
    list_reply = "list_reply"  # interactive list row chosen
    template_button = "template_button"  # quick-reply button of a template
    reaction = "reaction"
    order = "order"
    system = "system"
    unsupported = "unsupported"  # the provider says it cannot show it, or a type we do not know


class DeliveryStatus(StrEnum):
    """Outbound lifecycle. Provider statuses only ever move a message forward (see RANK)."""

    pending = "pending"  # in the outbox, not yet accepted by the provider
    sent = "sent"
    delivered = "delivered"
    read = "read"
    failed = "failed"  # terminal; keeps the provider's error code
    refused = "refused"  # terminal; never handed to the provider (e.g. outside the 24 h window)


#: Monotonic order of provider statuses. ``failed`` outranks everything: it is terminal.
STATUS_RANK: Mapping[str, int] = {
    DeliveryStatus.pending: 0,
    DeliveryStatus.sent: 1,
    DeliveryStatus.delivered: 2,
    DeliveryStatus.read: 3,
    DeliveryStatus.failed: 9,
    DeliveryStatus.refused: 9,
}


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote. WhatsApp users with a username may come without a phone (``wa_id``)."""

    wa_id: str | None = None
    bsuid: str | None = None  # WhatsApp business-scoped user id, e.g. "BR.1502576394655843"
    name: str | None = None
    username: str | None = None

    @property
    def address(self) -> str:
        """The stable key of this sender on its channel: the BSUID when present, else the phone."""
        key = self.bsuid or self.wa_id
        if not key:
            raise ValueError("a sender needs a wa_id or a business-scoped user id")
        return key


@dataclass(frozen=True, slots=True)
class InboundMessage:
    provider_message_id: str
    sender: Sender
    type: MessageType
    timestamp: datetime | None
    #: Text a person can read: the body, a caption, the chosen button's title, an emoji…
    text: str | None = None
    #: Normalised, JSON-serialisable details for the type (media id and mime type, coordinates,
    #: chosen button id, reacted message id…). For ``unsupported`` the provider's own object.
    content: Mapping[str, Any] = field(default_factory=dict)
    #: The provider message this one replies to, if any.
    context_id: str | None = None
    #: The provider's type string as received (differs from ``type`` for unknown types).
    provider_type: str = ""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    provider_message_id: str
    status: DeliveryStatus
    timestamp: datetime | None
    recipient: str | None = None
    error_code: str | None = None
    error_title: str | None = None


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """Anything in a webhook that is neither a message nor a status; stored, acknowledged."""

    kind: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class WebhookBatch:
    """Everything one webhook delivery carried, for one business number."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    others: tuple[OtherEvent, ...] = ()


# ---------------------------------------------------------------------------------------------
# Outbound content. The assistant and the inbox produce these; channel adapters render them.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Button:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class ListRow:
    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ListSection:
    title: str | None
    rows: tuple[ListRow, ...]


@dataclass(frozen=True, slots=True)
class TextContent:
    body: str
    preview_url: bool = False
    kind: str = "text"


@dataclass(frozen=True, slots=True)
class ButtonsContent:
    body: str
    buttons: tuple[Button, ...]
    header: str | None = None
    footer: str | None = None
    kind: str = "buttons"


@dataclass(frozen=True, slots=True)
class ListContent:
    body: str
    button: str
    sections: tuple[ListSection, ...]
    header: str | None = None
    footer: str | None = None
    kind: str = "list"


@dataclass(frozen=True, slots=True)
class MediaContent:
    """An image or a document, by public link or by an id the provider gave on upload."""

    media_type: str  # "image" | "document"
    link: str | None = None
    media_id: str | None = None
    caption: str | None = None
    filename: str | None = None
    kind: str = "media"


@dataclass(frozen=True, slots=True)
class TemplateContent:
    """A pre-approved template: the only thing that may go out after the 24-hour window."""

    name: str
    language: str = "pt_BR"
    #: Body parameters, in order ({{1}}, {{2}}, …).
    body_parameters: tuple[str, ...] = ()
    kind: str = "template"


OutboundContent = TextContent | ButtonsContent | ListContent | MediaContent | TemplateContent


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a reply goes: WhatsApp takes a phone (``to``) or a BSUID (``recipient``)."""

    wa_id: str | None = None
    bsuid: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelRuntime:
    """A channel as adapters need it at run time, secrets decrypted (never logged)."""

    id: str
    tenant_id: str
    slug: str
    kind: str
    config: Mapping[str, Any]
    secrets: Mapping[str, str] = field(repr=False)


class ChannelDirectoryPort(Protocol):
    """A channel's runtime config by id (``channels.directory`` implements it)."""

    async def by_id(self, channel_id: str) -> ChannelRuntime: ...


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    """A file a customer sent (a voice note, a photo…), downloaded from the provider.

    The bytes stay out of ``repr`` so a log line or a failed assertion never dumps a customer's
    audio or document.
    """

    data: bytes = field(repr=False)
    mime_type: str
    #: The name the provider gave the file, when it gave one (documents, rarely anything else).
    filename: str | None = None
    #: The provider's checksum, already verified against ``data``; None when it gave none.
    sha256: str | None = None


class SendError(Exception):
    """A provider refused or failed a send. ``transient`` decides whether it is retried."""

    def __init__(
        self,
        detail: str,
        *,
        transient: bool,
        http_status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.transient = transient
        self.http_status = http_status
        self.code = code
        self.retry_after = retry_after


class MediaFetchError(SendError):
    """A media download failed for a reason of its own rather than the provider's HTTP answer.

    ``reason`` is a stable code for logs and metrics, never a piece of the file.
    """

    #: The channel cannot fetch media at all (the sandbox has none).
    NOT_SUPPORTED = "not_supported"
    #: The media id cannot be one the provider issued.
    INVALID_MEDIA_ID = "invalid_media_id"
    #: The file is larger than the caller accepts.
    TOO_LARGE = "too_large"
    #: The bytes do not match the checksum the provider declared.
    CHECKSUM_MISMATCH = "checksum_mismatch"
    #: The provider answered 2xx with something unusable (no download URL, not JSON…).
    INVALID_RESPONSE = "invalid_response"

    def __init__(
        self,
        detail: str,
        *,
        reason: str,
        transient: bool = False,
        http_status: int | None = None,
    ) -> None:
        super().__init__(detail, transient=transient, http_status=http_status, code=None)
        self.reason = reason


class ChannelSender(Protocol):
    """The outbound port every channel adapter implements."""

    async def send(
        self, channel: ChannelRuntime, to: Recipient, content: OutboundContent
    ) -> SendResult:
        """Hand one message to the provider. Raises :class:`SendError`."""

    async def mark_read(
        self, channel: ChannelRuntime, provider_message_id: str, *, typing: bool
    ) -> None:
        """Tell the customer their message was read (and, with ``typing``, that a reply comes)."""

    async def fetch_media(
        self, channel: ChannelRuntime, media_id: str, *, max_bytes: int
    ) -> FetchedMedia:
        """Download a file a customer sent, by the ``media_id`` of the inbound message's content.

        Raises :class:`SendError` when the provider refuses or fails (``transient`` says whether
        asking again may help), and its subclass :class:`MediaFetchError` when the file is larger
        than ``max_bytes``, fails its checksum, or the channel has no media at all (sandbox).
        """
