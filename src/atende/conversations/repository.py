"""All SQL of the conversation domain. Sessions passed in are already bound to a tenant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from atende.contacts.models import Contact, ContactIdentity
from atende.conversations.models import Conversation, ConversationEvent, Message
from atende.deferred.models import DeferredKind, DeferredRequest, DeferredStatus


async def pending_inbound(session: AsyncSession, channel_id: str, address: str) -> list[Message]:
    """A contact's unanswered messages, in the order the customer wrote them."""
    rows = await session.scalars(
        select(Message)
        .where(
            Message.channel_id == channel_id,
            Message.address == address,
            Message.direction == "in",
            Message.processed_at.is_(None),
        )
        .order_by(Message.provider_timestamp, Message.id)
    )
    return list(rows)


async def claim_inbound(
    session: AsyncSession, ids: Sequence[int], conversation_id: str, now: datetime
) -> bool:
    """Mark messages answered, but only if nobody else did: the guard that makes a turn run once
    even if two processes race for the same messages."""
    result = await session.execute(
        update(Message)
        .where(Message.id.in_(ids), Message.processed_at.is_(None))
        .values(processed_at=now, status="processed", conversation_id=conversation_id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == len(ids)  # type: ignore[attr-defined]


async def fail_inbound(
    session: AsyncSession, channel_id: str, address: str, since: datetime, now: datetime
) -> list[int]:
    """Mark a contact's unanswered messages that arrived by ``since`` failed (a turn that kept
    failing on them was given up). Their ids, oldest first."""
    ids = list(
        await session.scalars(
            select(Message.id)
            .where(
                Message.channel_id == channel_id,
                Message.address == address,
                Message.direction == "in",
                Message.processed_at.is_(None),
                Message.created_at <= since,
            )
            .order_by(Message.id)
        )
    )
    if ids:
        await session.execute(
            update(Message)
            .where(Message.id.in_(ids), Message.processed_at.is_(None))
            .values(processed_at=now, status="failed", status_at=now)
            .execution_options(synchronize_session=False)
        )
    return ids


async def resolve_contact(
    session: AsyncSession,
    identities: Sequence[tuple[str, str]],
    *,
    name: str | None,
    phone: str | None,
    username: str | None,
) -> Contact:
    """One canonical contact per person: any known identity finds it; new identities attach."""
    # The identities and their contact in one round trip (it was two).
    rows = (
        await session.execute(
            select(ContactIdentity, Contact)
            .join(Contact, Contact.id == ContactIdentity.contact_id)
            .where(_any_identity(identities))
        )
    ).all()
    known = [identity for identity, _ in rows]
    contact: Contact | None = rows[0][1] if rows else None
    if contact is None:
        contact = Contact(name=name, phone=phone, username=username)
        session.add(contact)
        await session.flush()
    else:
        contact.name = name or contact.name
        contact.phone = phone or contact.phone
        contact.username = username or contact.username
    have = {(i.kind, i.value) for i in known}
    for kind, value in identities:
        if (kind, value) not in have:
            session.add(ContactIdentity(contact_id=contact.id, kind=kind, value=value))
    return contact


def _any_identity(identities: Sequence[tuple[str, str]]) -> Any:
    return or_(
        *(and_(ContactIdentity.kind == k, ContactIdentity.value == v) for k, v in identities)
    )


async def find_contact(
    session: AsyncSession, identities: Sequence[tuple[str, str]], channel_id: str
) -> tuple[Contact | None, Conversation | None]:
    """The contact one of these identities belongs to, and its conversation on this channel:
    one query (a turn's plan read them in three)."""
    if not identities:
        return None, None
    row = (
        await session.execute(
            select(Contact, Conversation)
            .join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
            .outerjoin(
                Conversation,
                and_(Conversation.contact_id == Contact.id, Conversation.channel_id == channel_id),
            )
            .where(_any_identity(identities))
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


async def conversation_for_update(
    session: AsyncSession, channel_id: str, contact_id: str
) -> Conversation | None:
    return await session.scalar(
        select(Conversation)
        .where(Conversation.channel_id == channel_id, Conversation.contact_id == contact_id)
        # Row lock on PostgreSQL (SQLite ignores it; its single writer serialises anyway).
        .with_for_update()
    )


def append_event(
    session: AsyncSession,
    conversation: Conversation,
    type_: str,
    data: dict[str, Any],
    *,
    now: datetime,
    correlation_id: str | None,
) -> None:
    session.add(
        ConversationEvent(
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.id,
            type=type_,
            data=data,
            correlation_id=correlation_id,
            created_at=now,
        )
    )


def event_row(
    conversation: Conversation,
    type_: str,
    data: dict[str, Any],
    *,
    now: datetime,
    correlation_id: str | None,
) -> dict[str, Any]:
    return {
        "tenant_id": conversation.tenant_id,
        "conversation_id": conversation.id,
        "type": type_,
        "data": data,
        "correlation_id": correlation_id,
        "created_at": now,
    }


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """A transaction's events in one INSERT (synchronous: it runs as the session commits)."""
    session.flush()  # the conversations they belong to exist first
    session.execute(insert(ConversationEvent), list(rows))


async def events(session: AsyncSession, conversation_id: str) -> list[ConversationEvent]:
    rows = await session.scalars(
        select(ConversationEvent)
        .where(ConversationEvent.conversation_id == conversation_id)
        .order_by(ConversationEvent.id)
    )
    return list(rows)


async def pending_deferred(session: AsyncSession, conversation_id: str) -> list[DeferredRequest]:
    """Requests of a conversation kept during an outage and not answered yet, oldest first."""
    rows = await session.scalars(
        select(DeferredRequest)
        .where(
            DeferredRequest.conversation_id == conversation_id,
            DeferredRequest.status == DeferredStatus.pending.value,
        )
        .order_by(DeferredRequest.created_at, DeferredRequest.id)
    )
    return list(rows)


async def next_deferred(session: AsyncSession, queue_key: str) -> DeferredRequest | None:
    """The oldest request kept for this turn key, due or not."""
    row: DeferredRequest | None = await session.scalar(
        select(DeferredRequest)
        .where(
            DeferredRequest.queue_key == queue_key,
            DeferredRequest.kind == DeferredKind.turn.value,
            DeferredRequest.status == DeferredStatus.pending.value,
        )
        .order_by(DeferredRequest.created_at, DeferredRequest.id)
        .limit(1)
    )
    return row


async def cancel_deferred(session: AsyncSession, conversation_id: str, now: datetime) -> int:
    result = await session.execute(
        update(DeferredRequest)
        .where(
            DeferredRequest.conversation_id == conversation_id,
            DeferredRequest.status == DeferredStatus.pending.value,
        )
        .values(status=DeferredStatus.cancelled.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def settle_deferred(
    session: AsyncSession, row_id: str, seen_attempts: int, **values: Any
) -> bool:
    """Update a kept request, but only if nobody else did since it was read (same attempts)."""
    result = await session.execute(
        update(DeferredRequest)
        .where(
            DeferredRequest.id == row_id,
            DeferredRequest.status == DeferredStatus.pending.value,
            DeferredRequest.attempts == seen_attempts,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


async def store_transcripts(
    session: AsyncSession, messages: Sequence[Message], transcripts: Mapping[int, str]
) -> None:
    """A voice note's transcript becomes its text (and is kept in its content, marked as such)."""
    for message in messages:
        text = transcripts.get(message.id)
        if text is None:
            continue
        await session.execute(
            update(Message)
            .where(Message.id == message.id)
            .values(text=text, content={**message.content, "transcript": text})
            .execution_options(synchronize_session=False)
        )
