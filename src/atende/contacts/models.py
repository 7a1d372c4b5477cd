from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atende.kit.clock import utcnow
from atende.kit.db import Base, Clipped, UtcDateTime
from atende.kit.ids import new_id
from atende.tenancy.scope import TenantScoped


class IdentityKind:
    #: WhatsApp's id for a phone number (digits, country code first). May be absent for users
    #: with a username.
    wa_id = "wa_id"
    #: WhatsApp's business-scoped user id (``BR.1502576394655843``), present even without a phone.
    bsuid = "bsuid"
    #: A sandbox channel's customer address (the phone given to `atende chat --phone`).
    sandbox = "sandbox"


class Contact(TenantScoped, Base):
    """One canonical record per person; channels attach identities to it."""

    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(Clipped(200))
    #: E.164 phone when known; never assumed (WhatsApp usernames hide it).
    phone: Mapped[str | None] = mapped_column(String(32))
    username: Mapped[str | None] = mapped_column(Clipped(100))
    #: Set when the person asked not to be contacted (LGPD); marketing sends must check it.
    opted_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ContactIdentity(TenantScoped, Base):
    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "value"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
