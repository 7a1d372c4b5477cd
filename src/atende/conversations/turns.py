"""The one place a :class:`Turn` is built from what the database holds.

The turn processor (a customer's messages), the resume worker (a request kept during an outage)
and `atende replay` (a recorded turn asked again) all build their turns here, so that an engine
sees the same turn whichever way it reaches it, and a field added to :class:`Turn` is filled
everywhere at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from atende.assistant.memory import SessionMemory, load_memory
from atende.assistant.port import Turn, TurnMessage
from atende.contacts.models import Contact
from atende.conversations.models import Message


def turn_messages(
    rows: Sequence[Message], transcripts: Mapping[int, str] | None = None
) -> tuple[TurnMessage, ...]:
    """The stored messages as the engine reads them; a transcribed voice note reads as its
    transcript."""
    heard = transcripts or {}
    return tuple(TurnMessage(m.type, heard.get(m.id, m.text), m.content) for m in rows)


def with_messages(turn: Turn, messages: Sequence[TurnMessage]) -> Turn:
    """``turn`` reading ``messages`` instead (voice notes transcribed after it was planned)."""
    return dataclasses.replace(turn, text=_text(messages), messages=tuple(messages))


def build_turn(
    *,
    tenant_id: str,
    conversation_id: str,
    session_id: str,
    channel_kind: str,
    contact: Contact | None,
    sender: Mapping[str, Any],
    state: SessionMemory | Mapping[str, Any],
    new_session: bool,
    now: datetime,
    messages: Sequence[TurnMessage] = (),
    resume: Mapping[str, Any] | None = None,
) -> Turn:
    """A turn of the conversation. ``sender`` is what the channel said of the customer on their
    last message (``{}`` when there is none, as for a resumed request): the contact's own record
    comes first, the channel's word fills what it lacks."""
    return Turn(
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        session_id=session_id,
        channel_kind=channel_kind,
        text=_text(messages),
        messages=tuple(messages),
        # The one place stored memory becomes the model: older shapes are upgraded here.
        state=load_memory(state),
        contact_name=(contact.name if contact else None) or _str(sender.get("name")),
        contact_phone=(contact.phone if contact else None)
        or (f"+{sender['wa_id']}" if sender.get("wa_id") else None),
        new_session=new_session,
        now=now,
        # The sandbox (the chat, the demo page) shows text only: engines send text menus there.
        interactive=channel_kind != "sandbox",
        resume=resume,
        contact_id=contact.id if contact else None,
    )


def _text(messages: Sequence[TurnMessage]) -> str:
    # Every fragment of a burst, in order, one a line.
    return "\n".join(m.text for m in messages if m.text)


def _str(value: Any) -> str | None:
    return str(value) if value else None
