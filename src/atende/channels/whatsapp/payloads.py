"""WhatsApp Cloud API message payloads, built from provider-neutral :class:`OutboundContent`.

Pure functions, no I/O. Meta rejects a payload that breaks one of its limits with a 400 that
fails the whole send, so the limits are enforced here, before anything leaves the process:

* counts and identifiers (too many buttons or rows, duplicate ids, an id too long) and the
  bodies people must read in full raise :class:`PayloadLimitError`: silently dropping a button
  or a paragraph would change what the customer is told;
* labels (button titles, row titles and descriptions, headers, footers, captions) are cut to
  the limit ending with "…", so a long product name never makes a send fail.

Lengths are ``len()`` of the Python ``str`` (code points), which is how Meta counts them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, assert_never

from atende.channels.text import MAX_TEXT, hard_cut, split_text
from atende.channels.types import (
    Button,
    ButtonsContent,
    ListContent,
    ListSection,
    MediaContent,
    OutboundContent,
    Recipient,
    TemplateContent,
    TextContent,
)

MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_BUTTONS_BODY = 1024

MAX_LIST_ROWS = 10
MAX_LIST_SECTIONS = 10
MAX_LIST_BUTTON = 20
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_ROW_ID = 200
MAX_SECTION_TITLE = 24
MAX_LIST_BODY = 4096

MAX_HEADER = 60
MAX_FOOTER = 60
MAX_CAPTION = 1024

MEDIA_TYPES = frozenset({"image", "document"})

ELLIPSIS = "…"

__all__ = ["MAX_TEXT", "PayloadLimitError", "build_mark_read", "build_message", "split_text"]


class PayloadLimitError(ValueError):
    """The content cannot be sent as it is: it breaks a WhatsApp limit that truncation can't fix."""


# ---------------------------------------------------------------------------------------------
# Message payloads
# ---------------------------------------------------------------------------------------------


def build_message(to: Recipient, content: OutboundContent) -> dict[str, Any]:
    """The Graph API JSON body that sends ``content`` to ``to``. Raises PayloadLimitError."""
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **_recipient(to),
    }
    if isinstance(content, TextContent):
        payload["type"] = "text"
        payload["text"] = _text(content)
    elif isinstance(content, ButtonsContent):
        payload["type"] = "interactive"
        payload["interactive"] = _buttons(content)
    elif isinstance(content, ListContent):
        payload["type"] = "interactive"
        payload["interactive"] = _list(content)
    elif isinstance(content, MediaContent):
        payload["type"] = content.media_type
        payload[content.media_type] = _media(content)
    elif isinstance(content, TemplateContent):
        payload["type"] = "template"
        payload["template"] = _template(content)
    else:
        assert_never(content)
    return payload


def build_mark_read(provider_message_id: str, *, typing: bool) -> dict[str, Any]:
    """Mark a received message as read (blue ticks), optionally showing "typing…" to the user."""
    if not provider_message_id:
        raise PayloadLimitError("mark as read needs the provider message id")
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": provider_message_id,
    }
    if typing:
        payload["typing_indicator"] = {"type": "text"}
    return payload


def _recipient(to: Recipient) -> dict[str, str]:
    # The phone wins when both are known: it is what every API version accepts, while
    # business-scoped user ids only exist for users who adopted a username.
    if to.wa_id:
        return {"to": to.wa_id}
    if to.bsuid:
        return {"recipient": to.bsuid}
    raise PayloadLimitError("a recipient needs a wa_id or a business-scoped user id")


def _text(content: TextContent) -> dict[str, Any]:
    body = _required_body(content.body, MAX_TEXT, "text")
    return {"preview_url": content.preview_url, "body": body}


def _buttons(content: ButtonsContent) -> dict[str, Any]:
    body = _required_body(content.body, MAX_BUTTONS_BODY, "reply buttons body")
    if not content.buttons:
        raise PayloadLimitError("reply buttons need at least one button")
    if len(content.buttons) > MAX_BUTTONS:
        raise PayloadLimitError(
            f"WhatsApp allows at most {MAX_BUTTONS} reply buttons, got {len(content.buttons)}"
        )
    _check_ids((b.id for b in content.buttons), MAX_BUTTON_ID, "button")
    interactive: dict[str, Any] = {"type": "button"}
    _add_header(interactive, content.header)
    interactive["body"] = {"text": body}
    _add_footer(interactive, content.footer)
    interactive["action"] = {"buttons": [_button(b) for b in content.buttons]}
    return interactive


def _button(button: Button) -> dict[str, Any]:
    title = _label(button.title, MAX_BUTTON_TITLE, f"title of button {button.id!r}")
    return {"type": "reply", "reply": {"id": button.id, "title": title}}


def _list(content: ListContent) -> dict[str, Any]:
    body = _required_body(content.body, MAX_LIST_BODY, "list body")
    sections = content.sections
    if not sections:
        raise PayloadLimitError("a list needs at least one section")
    if len(sections) > MAX_LIST_SECTIONS:
        raise PayloadLimitError(
            f"WhatsApp allows at most {MAX_LIST_SECTIONS} list sections, got {len(sections)}"
        )
    total_rows = sum(len(section.rows) for section in sections)
    if total_rows > MAX_LIST_ROWS:
        raise PayloadLimitError(
            f"WhatsApp allows at most {MAX_LIST_ROWS} list rows in total, got {total_rows}"
        )
    for index, section in enumerate(sections, start=1):
        if not section.rows:
            raise PayloadLimitError(f"list section {index} has no rows")
        if len(sections) > 1 and not (section.title and section.title.strip()):
            raise PayloadLimitError(
                f"list section {index} needs a title: a list with several sections titles each"
            )
    _check_ids((row.id for s in sections for row in s.rows), MAX_ROW_ID, "list row")
    interactive: dict[str, Any] = {"type": "list"}
    _add_header(interactive, content.header)
    interactive["body"] = {"text": body}
    _add_footer(interactive, content.footer)
    interactive["action"] = {
        "button": _label(content.button, MAX_LIST_BUTTON, "list button"),
        "sections": [_section(section) for section in sections],
    }
    return interactive


def _section(section: ListSection) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    if section.title and section.title.strip():
        rendered["title"] = _truncate(section.title, MAX_SECTION_TITLE)
    rows: list[dict[str, Any]] = []
    for row in section.rows:
        item = {"id": row.id, "title": _label(row.title, MAX_ROW_TITLE, f"row {row.id!r}")}
        if row.description:
            item["description"] = _truncate(row.description, MAX_ROW_DESCRIPTION)
        rows.append(item)
    rendered["rows"] = rows
    return rendered


def _media(content: MediaContent) -> dict[str, Any]:
    if content.media_type not in MEDIA_TYPES:
        raise PayloadLimitError(
            f"media type must be one of {sorted(MEDIA_TYPES)}, got {content.media_type!r}"
        )
    if bool(content.link) == bool(content.media_id):
        raise PayloadLimitError(
            "media needs exactly one of a link or an uploaded media id"
            + (", got both" if content.link else ", got neither")
        )
    media: dict[str, Any] = {"link": content.link} if content.link else {"id": content.media_id}
    if content.caption:
        media["caption"] = _truncate(content.caption, MAX_CAPTION)
    # Images have no file name on WhatsApp; it only names the file a document downloads as.
    if content.media_type == "document" and content.filename:
        media["filename"] = content.filename
    return media


def _template(content: TemplateContent) -> dict[str, Any]:
    if not content.name.strip():
        raise PayloadLimitError("a template needs a name")
    if not content.language.strip():
        raise PayloadLimitError(f"template {content.name!r} needs a language code")
    template: dict[str, Any] = {"name": content.name, "language": {"code": content.language}}
    if content.body_parameters:
        parameters = [{"type": "text", "text": value} for value in content.body_parameters]
        template["components"] = [{"type": "body", "parameters": parameters}]
    return template


# ---------------------------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------------------------


def _required_body(body: str, limit: int, what: str) -> str:
    if not body.strip():
        raise PayloadLimitError(f"the {what} is empty")
    if len(body) > limit:
        raise PayloadLimitError(
            f"the {what} has {len(body)} characters, WhatsApp allows {limit}"
            + ("; split it with split_text before sending" if limit == MAX_TEXT else "")
        )
    return body


def _check_ids(ids: Iterable[str], limit: int, what: str) -> None:
    seen: set[str] = set()
    for item_id in ids:
        if not item_id:
            raise PayloadLimitError(f"every {what} needs an id")
        if len(item_id) > limit:
            # Never truncated: the id comes back in the customer's reply and must match exactly.
            raise PayloadLimitError(
                f"{what} id {item_id[:20]!r}… has {len(item_id)} characters, WhatsApp allows "
                f"{limit}"
            )
        if item_id in seen:
            raise PayloadLimitError(f"duplicate {what} id {item_id!r}: replies would be ambiguous")
        seen.add(item_id)


def _label(text: str, limit: int, what: str) -> str:
    if not text.strip():
        raise PayloadLimitError(f"the {what} is empty")
    return _truncate(text, limit)


def _add_header(interactive: dict[str, Any], header: str | None) -> None:
    if header and header.strip():
        interactive["header"] = {"type": "text", "text": _truncate(header, MAX_HEADER)}


def _add_footer(interactive: dict[str, Any], footer: str | None) -> None:
    if footer and footer.strip():
        interactive["footer"] = {"text": _truncate(footer, MAX_FOOTER)}


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: hard_cut(text, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS
