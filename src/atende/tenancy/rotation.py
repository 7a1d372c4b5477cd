"""`atende secrets rotate`: every stored secret re-encrypted with the current ATENDE_SECRET_KEY.

Secrets live in two places: channels' ``secrets`` and, inside tenants' ``settings``, the ERP's
and the model's keys. Rather than list those paths (and miss the next one), every string there
that one of the configured keys decrypts is rotated; anything else is left as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.channels.models import Channel
from atende.kit.secrets import SecretBox
from atende.tenancy.models import Tenant
from atende.tenancy.scope import ALL_TENANTS

#: Every Fernet token starts with its version byte 0x80, base64url-encoded.
_FERNET_PREFIX = "gAAAAA"


class _Rotation:
    def __init__(self, box: SecretBox) -> None:
        self.box = box
        self.changed = 0

    def value(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(_FERNET_PREFIX):
            rotated = self.box.rotate(value)
            if rotated is None:
                return value
            self.changed += 1
            return rotated
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value


async def rotate_stored_secrets(sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> int:
    """Re-encrypt what the current or a previous key reads with the current key, in one
    transaction. The number of values rotated."""
    rotation = _Rotation(box)
    async with sessions() as session:
        for channel in await session.scalars(
            select(Channel), execution_options={ALL_TENANTS: True}
        ):
            channel.secrets = rotation.value(dict(channel.secrets or {}))
        for tenant in await session.scalars(select(Tenant)):
            tenant.settings = rotation.value(dict(tenant.settings or {}))
        await session.commit()
    return rotation.changed
