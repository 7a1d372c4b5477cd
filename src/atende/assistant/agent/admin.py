"""A tenant's model settings, written by the admin (``atende llm``), the API key encrypted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.assistant.agent.config import SECRET_KEYS, TENANT_KEYS, LlmConfig
from atende.kit.secrets import SecretBox
from atende.tenancy.models import Tenant

#: Settings an admin may change; everything else in ``tenants.settings["llm"]`` is kept.
EDITABLE = frozenset({"enabled", *TENANT_KEYS})


async def configure_llm(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    tenant_id: str,
    changes: dict[str, Any],
    *,
    api_key: str | None = None,
    embedding_api_key: str | None = None,
) -> dict[str, Any]:
    """Merge ``changes`` into the tenant's model settings; returns them, the key hidden."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"unknown LLM settings: {', '.join(sorted(unknown))}")
    async with sessions() as session:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        settings = dict(tenant.settings or {})
        llm = {**dict(settings.get("llm") or {}), **changes}
        if api_key is not None:
            llm["api_key"] = box.encrypt(api_key)
        if embedding_api_key is not None:
            llm["embedding_api_key"] = box.encrypt(embedding_api_key)
        settings["llm"] = llm
        tenant.settings = settings
        await session.commit()
    return shown(llm)


def shown(llm: dict[str, Any]) -> dict[str, Any]:
    """The settings as an admin may see them: the key only as 'set'."""
    return {k: ("(set)" if k in SECRET_KEYS else v) for k, v in sorted(llm.items())}


async def any_tenant_uses_llm(
    sessions: async_sessionmaker[AsyncSession], defaults: LlmConfig, box: SecretBox
) -> bool:
    """Whether some tenant's turns go to a model (its own settings over the process's)."""
    async with sessions() as session:
        rows = await session.scalars(select(Tenant.settings))
        return any(defaults.for_tenant(settings or {}, box).enabled for settings in rows)
