"""WhatsApp Cloud API webhook JSON → provider-neutral values (:mod:`atende.channels.types`).

The parser is total over JSON: anything it cannot read becomes an :class:`OtherEvent` holding the
raw piece, never an exception. Meta retries an unacknowledged delivery for days and a batch mixes
many customers, so one odd message must neither block its neighbours nor vanish unstored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from atende.channels.types import (
    DeliveryStatus,
    InboundMessage,
    MessageType,
    OtherEvent,
    Sender,
    StatusUpdate,
    WebhookBatch,
)
from atende.kit.clock import from_unix

WHATSAPP_OBJECT = "whatsapp_business_account"

#: Keys of a ``messages`` change value that this module reads; any other key is kept as an event.
_KNOWN_VALUE_KEYS = frozenset({"messaging_product", "metadata", "contacts", "messages", "statuses"})

_STATUSES: Mapping[str, DeliveryStatus] = {
    "sent": DeliveryStatus.sent,
    "delivered": DeliveryStatus.delivered,
    "read": DeliveryStatus.read,
    "failed": DeliveryStatus.failed,
}


class WebhookPayloadError(ValueError):
    """The body is JSON but not a JSON object, so it cannot be a webhook at all."""


#: What a per-type handler extracts: the neutral type, the readable text and the content.
_Parsed = tuple[MessageType, str | None, dict[str, Any]]
#: A handler gets the message's type-named object (``message["image"]`` …); None = malformed.
_Handler = Callable[[object], _Parsed | None]


# --- Total readers: JSON gives us ``object``, these narrow it or answer None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object) -> int | float | None:
    # bool is an int subclass, and ``true`` is no coordinate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _timestamp(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        return from_unix(value)
    except OverflowError:  # an int beyond float range; json.loads (unlike orjson) yields those
        return None


def _wa_id(value: object) -> str | None:
    """A WhatsApp id is ASCII digits. ``str.isdigit`` alone would let fullwidth (U+FF15) and
    Arabic-Indic (U+0665) digits through, and they would then be used as a recipient."""
    text = _str(value)
    return text if text is not None and text.isascii() and text.isdigit() else None


def _code(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # more digits than int→str allows; no real error code looks like that
            return None
    return _str(value)


def _as_payload(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}


# --- One handler per message type


def _text(obj: object) -> _Parsed | None:
    body = obj.get("body") if isinstance(obj, dict) else None
    if not isinstance(body, str):
        return None
    return MessageType.text, body, {}


def _media_content(obj: dict[str, Any]) -> dict[str, Any] | None:
    media_id = _str(obj.get("id"))
    if media_id is None:  # without an id the file can never be downloaded
        return None
    return {
        "media_id": media_id,
        "mime_type": _str(obj.get("mime_type")),
        "sha256": _str(obj.get("sha256")),
    }


def _media(kind: MessageType) -> _Handler:
    def parse(obj: object) -> _Parsed | None:
        if not isinstance(obj, dict) or (content := _media_content(obj)) is None:
            return None
        return kind, _str(obj.get("caption")), content

    return parse


def _document(obj: object) -> _Parsed | None:
    if not isinstance(obj, dict) or (content := _media_content(obj)) is None:
        return None
    content["filename"] = _str(obj.get("filename"))
    return MessageType.document, _str(obj.get("caption")), content


def _sticker(obj: object) -> _Parsed | None:
    if not isinstance(obj, dict) or (content := _media_content(obj)) is None:
        return None
    content["animated"] = obj.get("animated") is True
    return MessageType.sticker, None, content


def _audio(obj: object) -> _Parsed | None:
    if not isinstance(obj, dict) or (content := _media_content(obj)) is None:
        return None
    # Voice notes arrive as type "audio"; only this flag tells a recorded voice note apart.
    kind = MessageType.voice if obj.get("voice") is True else MessageType.audio
    return kind, None, content


def _location(obj: object) -> _Parsed | None:
    if not isinstance(obj, dict):
        return None
    latitude, longitude = _number(obj.get("latitude")), _number(obj.get("longitude"))
    if latitude is None or longitude is None:
        return None
    name, address = _str(obj.get("name")), _str(obj.get("address"))
    text = "\n".join(part for part in (name, address) if part) or None
    content = {
        "latitude": latitude,
        "longitude": longitude,
        "name": name,
        "address": address,
        "url": _str(obj.get("url")),
    }
    return MessageType.location, text, content


def _contacts(obj: object) -> _Parsed | None:
    if not isinstance(obj, list):
        return None
    return MessageType.contacts, None, {"contacts": obj}


def _interactive(obj: object) -> _Parsed | None:
    if not isinstance(obj, dict):
        return None
    kind = obj.get("type")
    if kind not in ("button_reply", "list_reply"):
        # Flow replies (nfm_reply) and future kinds: keep the whole message for a human.
        return MessageType.unsupported, None, {}
    reply = obj.get(kind)
    if not isinstance(reply, dict) or (reply_id := _str(reply.get("id"))) is None:
        return None
    title = _str(reply.get("title"))
    if kind == "button_reply":
        return MessageType.button_reply, title, {"id": reply_id, "title": title}
    content = {"id": reply_id, "title": title, "description": _str(reply.get("description"))}
    return MessageType.list_reply, title, content


def _button(obj: object) -> _Parsed | None:
    if not isinstance(obj, dict):
        return None
    text, payload = _str(obj.get("text")), _str(obj.get("payload"))
    if text is None and payload is None:
        return None
    return MessageType.template_button, text, {"payload": payload, "text": text}


def _reaction(obj: object) -> _Parsed | None:
    if not isinstance(obj, dict):
        return None
    target = _str(obj.get("message_id"))
    if target is None:
        return None
    # Meta removes a reaction by sending the same reaction without an emoji.
    emoji = _str(obj.get("emoji"))
    content = {"message_id": target, "emoji": emoji, "removed": emoji is None}
    return MessageType.reaction, emoji, content


def _order(obj: object) -> _Parsed | None:
    if not isinstance(obj, dict):
        return None
    items = obj.get("product_items")
    text = _str(obj.get("text"))
    content = {
        "catalog_id": _str(obj.get("catalog_id")),
        "product_items": items if isinstance(items, list) else [],
        "text": text,
    }
    return MessageType.order, text, content


def _system(obj: object) -> _Parsed | None:
    if not isinstance(obj, dict):
        return None
    body = _str(obj.get("body"))
    content = {
        "type": _str(obj.get("type")),
        "body": body,
        # Older payloads name the customer's new number ``new_wa_id``, newer ones ``wa_id``.
        "wa_id": _wa_id(obj.get("wa_id")) or _wa_id(obj.get("new_wa_id")),
        "user_id": _str(obj.get("user_id")) or _str(obj.get("new_user_id")),
    }
    return MessageType.system, body, content


_HANDLERS: Mapping[str, _Handler] = {
    "text": _text,
    "image": _media(MessageType.image),
    "video": _media(MessageType.video),
    "document": _document,
    "sticker": _sticker,
    "audio": _audio,
    "location": _location,
    "contacts": _contacts,
    "interactive": _interactive,
    "button": _button,
    "reaction": _reaction,
    "order": _order,
    "system": _system,
}

_UNSUPPORTED: _Parsed = (MessageType.unsupported, None, {})


# --- Messages, senders and statuses


def _contact_index(contacts: object) -> dict[str, dict[str, Any]]:
    """Contacts keyed by phone and by BSUID (disjoint: a BSUID starts with a country code)."""
    index: dict[str, dict[str, Any]] = {}
    if isinstance(contacts, list):
        for contact in contacts:
            if isinstance(contact, dict):
                for key in ("wa_id", "user_id"):
                    ident = _str(contact.get(key))
                    if ident is not None:
                        index.setdefault(ident, contact)
    return index


def _sender(phone: str | None, bsuid: str | None, contacts: Mapping[str, Any]) -> Sender:
    contact = contacts.get(phone) if phone else None
    if contact is None and bsuid:
        contact = contacts.get(bsuid)
    if contact is None:
        return Sender(wa_id=phone, bsuid=bsuid)
    profile = contact.get("profile")
    if not isinstance(profile, dict):
        profile = {}
    return Sender(
        wa_id=phone or _wa_id(contact.get("wa_id")),
        bsuid=bsuid or _str(contact.get("user_id")),
        name=_str(profile.get("name")),
        username=_str(profile.get("username")),
    )


#: Message keys every type has, and that the normalised message already carries.
_ENVELOPE = frozenset({"from", "from_user_id", "id", "timestamp", "type", "context"})


def _message(raw: object, contacts: Mapping[str, Any]) -> InboundMessage | OtherEvent:
    if not isinstance(raw, dict):
        return OtherEvent("malformed_message", {"value": raw})
    message_id, provider_type = _str(raw.get("id")), _str(raw.get("type"))
    phone, bsuid = _wa_id(raw.get("from")), _str(raw.get("from_user_id"))
    if message_id is None or provider_type is None or (phone is None and bsuid is None):
        return OtherEvent("malformed_message", raw)
    handler = _HANDLERS.get(provider_type)
    parsed = handler(raw.get(provider_type)) if handler is not None else _UNSUPPORTED
    if parsed is None:
        return OtherEvent("malformed_message", raw)
    kind, text, content = parsed
    context = raw.get("context")
    if kind is not MessageType.unsupported:
        # Fields we do not interpret yet (a click-to-WhatsApp ad's referral, "forwarded" in the
        # context, message-level errors…) are kept, not dropped.
        extra = {k: v for k, v in raw.items() if k not in _ENVELOPE and k != provider_type}
        if isinstance(context, dict) and context.keys() - {"id", "from"}:
            extra["context"] = context
        if extra:
            content = {**content, "extra": extra}
    return InboundMessage(
        provider_message_id=message_id,
        sender=_sender(phone, bsuid, contacts),
        type=kind,
        timestamp=_timestamp(raw.get("timestamp")),
        text=text,
        # The domain cannot interpret an unsupported message; a human may, from the original.
        content=raw if kind is MessageType.unsupported else content,
        context_id=_str(context.get("id")) if isinstance(context, dict) else None,
        provider_type=provider_type,
    )


def _first_error(errors: object) -> tuple[str | None, str | None]:
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None, None
    error = errors[0]
    return _code(error.get("code")), _str(error.get("title")) or _str(error.get("message"))


def _status(raw: object) -> StatusUpdate | OtherEvent:
    if not isinstance(raw, dict):
        return OtherEvent("malformed_status", {"value": raw})
    message_id = _str(raw.get("id"))
    if message_id is None:
        return OtherEvent("malformed_status", raw)
    name = _str(raw.get("status"))
    status = _STATUSES.get(name) if name is not None else None
    if status is None:  # "deleted", "warning", future ones: stored, never a delivery transition
        return OtherEvent("status", raw)
    code, title = _first_error(raw.get("errors") if status is DeliveryStatus.failed else None)
    return StatusUpdate(
        provider_message_id=message_id,
        status=status,
        timestamp=_timestamp(raw.get("timestamp")),
        recipient=_str(raw.get("recipient_id")) or _str(raw.get("recipient_user_id")),
        error_code=code,
        error_title=title,
    )


# --- Entries and changes, grouped per business phone number


@dataclass(slots=True)
class _Group:
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    others: list[OtherEvent] = field(default_factory=list)

    def batch(self) -> WebhookBatch:
        return WebhookBatch(tuple(self.messages), tuple(self.statuses), tuple(self.others))


def _group(groups: dict[str | None, _Group], phone_number_id: str | None) -> _Group:
    group = groups.get(phone_number_id)
    if group is None:
        group = groups[phone_number_id] = _Group()
    return group


def _messages_value(value: dict[str, Any], change: dict[str, Any], group: _Group) -> None:
    messages, statuses = value.get("messages", []), value.get("statuses", [])
    if not isinstance(messages, list) or not isinstance(statuses, list):
        group.others.append(OtherEvent("malformed_change", change))
        return
    if messages:
        contacts = _contact_index(value.get("contacts"))
        for raw in messages:
            message = _message(raw, contacts)
            if isinstance(message, InboundMessage):
                group.messages.append(message)
            else:
                group.others.append(message)
    for raw in statuses:
        status = _status(raw)
        if isinstance(status, StatusUpdate):
            group.statuses.append(status)
        else:
            group.others.append(status)
    for key, extra in value.items():
        if key not in _KNOWN_VALUE_KEYS:  # e.g. value-level "errors"
            group.others.append(OtherEvent(f"messages.{key}", {key: extra}))


def _change(change: object, groups: dict[str | None, _Group]) -> None:
    if not isinstance(change, dict):
        _group(groups, None).others.append(OtherEvent("malformed_change", {"value": change}))
        return
    value, kind = change.get("value"), _str(change.get("field"))
    if not isinstance(value, dict) or kind is None:
        _group(groups, None).others.append(OtherEvent("malformed_change", change))
        return
    metadata = value.get("metadata")
    phone_number_id = _str(metadata.get("phone_number_id")) if isinstance(metadata, dict) else None
    group = _group(groups, phone_number_id)
    if kind == "messages":
        _messages_value(value, change, group)
    else:
        group.others.append(OtherEvent(kind, change))


def _entry(entry: object, groups: dict[str | None, _Group]) -> None:
    changes = entry.get("changes") if isinstance(entry, dict) else None
    if not isinstance(changes, list):
        _group(groups, None).others.append(OtherEvent("malformed_entry", _as_payload(entry)))
        return
    for change in changes:
        _change(change, groups)


def parse_webhook(payload: object) -> list[tuple[str | None, WebhookBatch]]:
    """Split one webhook delivery into a batch per business phone number (``phone_number_id``).

    Batches come in order of first appearance; a change without a phone number id lands under
    None. Raises :class:`WebhookPayloadError` only when ``payload`` is not a JSON object.
    """
    if not isinstance(payload, dict):
        raise WebhookPayloadError(f"a webhook is a JSON object, not {type(payload).__name__}")
    if payload.get("object") != WHATSAPP_OBJECT:
        return [(None, WebhookBatch(others=(OtherEvent("unrecognized_object", payload),)))]
    entries = payload.get("entry")
    groups: dict[str | None, _Group] = {}
    if not isinstance(entries, list):
        _group(groups, None).others.append(OtherEvent("malformed_webhook", payload))
    else:
        for entry in entries:
            _entry(entry, groups)
    return [(phone_number_id, group.batch()) for phone_number_id, group in groups.items()]
