from __future__ import annotations

import secrets
import uuid


def new_id() -> str:
    """Opaque keys for entities created rarely (tenants, channels, contacts, conversations)."""
    return uuid.uuid4().hex


def new_correlation_id() -> str:
    return secrets.token_hex(8)
