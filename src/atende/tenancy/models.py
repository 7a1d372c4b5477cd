from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from atende.kit.clock import utcnow
from atende.kit.db import Base, Json, UtcDateTime
from atende.kit.ids import new_id
from atende.tenancy.scope import TenantScoped


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Tenant preferences: assistant name, timezone, business hours… (grows with later issues).
    settings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ServiceToken(TenantScoped, Base):
    """A credential for machine callers of the Business API (``Auth-Token`` header).

    Only a SHA-256 of the token is stored. Tokens are 256 random bits, so a fast hash is enough:
    slow password hashes exist to protect guessable secrets, and these are not guessable.
    """

    __tablename__ = "service_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
