"""Deeply nested JSON in a signed webhook: a 400 and one log line, nothing stored, on both
engines (issue 10, point 4). Depth is bounded where JSON is made storable too."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from atende.channels.models import ProviderEvent
from atende.kit.jsonsafe import MAX_DEPTH, storable
from atende.kit.logging import configure_logging
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS
from tests.support.app import Seeded, running, signed
from tests.support.payloads import text_message, webhook
from tests.support.waiting import count_messages

PATH = "/webhooks/whatsapp/acme-whatsapp"


_DEEP = "__deep__"


def nested(depth: int) -> Any:
    value: Any = "fundo"
    for level in range(depth):
        value = {"n": value} if level % 2 else [value]
    return value


def deep_body(payload: dict[str, Any], depth: int) -> bytes:
    """The payload with ``depth`` levels where it says ``_DEEP`` (written as text: the JSON
    libraries refuse to serialise that deep themselves)."""
    opening = "".join('{"n":' if level % 2 else "[" for level in reversed(range(depth)))
    closing = "".join("}" if level % 2 else "]" for level in range(depth))
    return orjson.dumps(payload).replace(
        f'"{_DEEP}"'.encode(), f'{opening}"fundo"{closing}'.encode()
    )


def in_text() -> dict[str, Any]:
    message = text_message("5511987654321", "oi")
    message["text"] = {"body": _DEEP}
    return webhook([message])


def in_unknown_type() -> dict[str, Any]:
    message = text_message("5511987654321", "oi")
    message["type"] = "hologram"
    message["hologram"] = _DEEP
    return webhook([message])


def in_account_event() -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "account_update", "value": _DEEP}]}],
    }


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(level="INFO", json=True, stream=stream)
    yield stream
    configure_logging(level="WARNING", json=False)


@pytest.fixture
async def client(container: Container, seeded: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    async with running(container) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


@pytest.mark.parametrize("depth", [500, 1000])
@pytest.mark.parametrize("where", [in_text, in_unknown_type, in_account_event])
async def test_that_a_deeply_nested_body_is_a_400_with_one_log_line(
    client: httpx.AsyncClient,
    container: Container,
    captured: io.StringIO,
    depth: int,
    where: Any,
) -> None:
    raw = deep_body(where(), depth)
    before = captured.tell()

    response = await client.post(PATH, content=raw, headers=signed(raw))

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    lines = [orjson.loads(x) for x in captured.getvalue()[before:].splitlines() if x.strip()]
    loud = [line for line in lines if line["level"] in ("warning", "error", "critical")]
    assert [line["event"] for line in loud] == ["webhook body nested too deeply"]
    assert all("exception" not in line for line in lines)
    assert await count_messages(container) == 0
    async with container.sessions() as session:
        events = await session.scalar(
            select(func.count()).select_from(ProviderEvent),
            execution_options={ALL_TENANTS: True},
        )
    assert events == 0


async def test_that_a_body_within_the_depth_limit_is_still_stored(
    client: httpx.AsyncClient, container: Container
) -> None:
    raw = deep_body(in_unknown_type(), MAX_DEPTH - 12)  # the envelope takes some levels

    response = await client.post(PATH, content=raw, headers=signed(raw))

    assert response.status_code == 200
    assert await count_messages(container) == 1


def test_that_storable_cuts_what_is_nested_beyond_the_limit() -> None:
    kept = storable({"a": nested(5000)})

    depth = 1
    value: Any = kept["a"]
    while isinstance(value, dict | list):
        value = value["n"] if isinstance(value, dict) else value[0]
        depth += 1
    assert depth <= MAX_DEPTH
    assert value == "[nested too deeply]"
    assert storable({"a": ["x\x00y", {"b": 1}]}) == {"a": ["x\ufffdy", {"b": 1}]}
