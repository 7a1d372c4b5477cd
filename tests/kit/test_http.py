from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from atende.kit.errors import AtendeError, NotFound
from atende.kit.http import correlation_id, problem, read_capped

LIMIT = 1024
GENERATED_ID = re.compile(r"^[0-9a-f]{16}$")


def _app() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(AtendeError)
    async def _problem(_request: Request, error: AtendeError) -> JSONResponse:
        return problem(error)

    @app.post("/body")
    async def body(request: Request) -> dict[str, int]:
        return {"size": len(await read_capped(request, LIMIT))}

    @app.get("/id")
    async def request_id(request: Request) -> dict[str, str]:
        return {"id": correlation_id(request)}

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("no such conversation")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _chunks(total: int, size: int = 100) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b"x" * min(size, total - sent)
        sent += len(chunk)
        yield chunk


def _assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "payload too large",
        "status": 413,
        "detail": f"body larger than {LIMIT} bytes",
    }


async def test_that_a_body_within_the_limit_is_read_whole(client: httpx.AsyncClient) -> None:
    response = await client.post("/body", content=b"x" * LIMIT)

    assert response.status_code == 200
    assert response.json() == {"size": LIMIT}


async def test_that_a_declared_oversized_body_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/body", content=b"x" * (LIMIT + 1))

    _assert_too_large(response)


async def test_that_an_oversized_content_length_is_refused_before_reading(
    client: httpx.AsyncClient,
) -> None:
    # The header alone decides: the (small) body is never looked at.
    response = await client.post(
        "/body", content=b"{}", headers={"content-length": str(LIMIT * 100)}
    )

    _assert_too_large(response)


async def test_that_an_oversized_chunked_body_is_refused(client: httpx.AsyncClient) -> None:
    request = client.build_request("POST", "/body", content=_chunks(LIMIT * 3))
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"

    response = await client.send(request)

    _assert_too_large(response)


async def test_that_a_chunked_body_within_the_limit_is_read_whole(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/body", content=_chunks(LIMIT, size=7))

    assert response.status_code == 200
    assert response.json() == {"size": LIMIT}


@pytest.mark.parametrize("given", ["abc-123", "req_01HZX3K9", "x" * 64, "a b:c/d=e"])
async def test_that_a_sane_request_id_is_honoured(client: httpx.AsyncClient, given: str) -> None:
    response = await client.get("/id", headers={"x-request-id": given})

    assert response.json() == {"id": given}


@pytest.mark.parametrize(
    "given",
    [
        b"x" * 65,
        b"abc\x01def",
        b"tab\tinside",
        "caf\u00e9".encode(),
        b"",
    ],
)
async def test_that_a_missing_long_or_unprintable_request_id_is_replaced(
    client: httpx.AsyncClient, given: bytes
) -> None:
    response = await client.get("/id", headers={"x-request-id": given})

    found = response.json()["id"]
    assert GENERATED_ID.match(found), found


async def test_that_each_request_without_an_id_gets_a_fresh_one(
    client: httpx.AsyncClient,
) -> None:
    first = (await client.get("/id")).json()["id"]
    second = (await client.get("/id")).json()["id"]

    assert GENERATED_ID.match(first)
    assert GENERATED_ID.match(second)
    assert first != second


async def test_that_problem_carries_the_error_status_title_and_detail(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/missing")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "not found",
        "status": 404,
        "detail": "no such conversation",
    }
