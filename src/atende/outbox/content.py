"""Outbound content <-> the JSON stored in the outbox row."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from atende.channels.types import (
    Button,
    ButtonsContent,
    ListContent,
    ListRow,
    ListSection,
    MediaContent,
    OutboundContent,
    TemplateContent,
    TextContent,
)


def to_json(content: OutboundContent) -> dict[str, Any]:
    return dataclasses.asdict(content)


def from_json(data: Mapping[str, Any]) -> OutboundContent:
    kind = data.get("kind")
    fields = {k: v for k, v in data.items() if k != "kind"}
    if kind == "text":
        return TextContent(**fields)
    if kind == "buttons":
        fields["buttons"] = tuple(Button(**b) for b in fields["buttons"])
        return ButtonsContent(**fields)
    if kind == "list":
        fields["sections"] = tuple(
            ListSection(title=s.get("title"), rows=tuple(ListRow(**r) for r in s["rows"]))
            for s in fields["sections"]
        )
        return ListContent(**fields)
    if kind == "media":
        return MediaContent(**fields)
    if kind == "template":
        fields["body_parameters"] = tuple(fields.get("body_parameters", ()))
        return TemplateContent(**fields)
    raise ValueError(f"unknown outbound content kind: {kind!r}")


def message_type(content: OutboundContent) -> str:
    if isinstance(content, MediaContent):
        return content.media_type
    if isinstance(content, ButtonsContent | ListContent):
        return "interactive"
    return content.kind


def preview_text(content: OutboundContent) -> str | None:
    """What a person reads, for the message's ``text`` column and text-only channels."""
    if isinstance(content, TextContent | ButtonsContent | ListContent):
        return content.body
    if isinstance(content, MediaContent):
        return content.caption
    return f"[template {content.name}]"
