"""HTTP face of the sandbox channel, used by ``atende chat --url``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, Field

from atende.channels.sandbox.service import SandboxService
from atende.channels.types import ChannelRuntime


class SandboxMessage(BaseModel):
    from_: str = Field(alias="from", min_length=3, max_length=32)
    text: str = Field(min_length=1, max_length=4096)
    name: str | None = Field(default=None, max_length=200)


def _token(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def build_router(service: SandboxService) -> APIRouter:
    router = APIRouter(prefix="/sandbox", tags=["sandbox"])

    async def channel(slug: str, authorization: str | None) -> ChannelRuntime:
        return await service.channel(slug, _token(authorization))

    @router.post("/{slug}/messages", status_code=202)
    async def post_message(
        slug: str,
        message: SandboxMessage,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """Say something as the customer ``from``; the reply comes through the outbox."""
        found = await channel(slug, authorization)
        message_id = await service.submit(found, message.from_, message.text, name=message.name)
        return {"message_id": message_id}

    @router.get("/{slug}/replies")
    async def get_replies(
        slug: str,
        from_: Annotated[str, Query(alias="from")],
        message_id: str | None = None,
        after: int = 0,
        wait: Annotated[float, Query(ge=0, le=60)] = 0.0,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """Replies to ``from`` after id ``after``; with ``wait``, long-poll until ``message_id``
        is answered."""
        found = await channel(slug, authorization)
        result = await service.replies(found, from_, message_id=message_id, after=after, wait=wait)
        return {"answered": result.answered, "replies": result.replies, "last_id": result.last_id}

    return router
