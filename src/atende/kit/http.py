"""Small HTTP edge helpers shared by the webhook endpoints."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from atende.kit.errors import AtendeError, PayloadTooLarge
from atende.kit.ids import new_correlation_id


async def read_capped(request: Request, limit: int) -> bytes:
    """The raw body, refusing anything above ``limit`` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def correlation_id(request: Request) -> str:
    """Honour a caller's request id (a proxy's X-Request-ID) or start a new one."""
    given = request.headers.get("x-request-id", "")
    if given and len(given) <= 64 and given.isascii() and given.isprintable():
        return given
    return new_correlation_id()


def problem(error: AtendeError) -> JSONResponse:
    """RFC 9457 problem details."""
    return JSONResponse(
        {
            "type": "about:blank",
            "title": error.title,
            "status": error.status_code,
            "detail": error.detail,
            **error.extensions(),
        },
        status_code=error.status_code,
        media_type="application/problem+json",
    )
