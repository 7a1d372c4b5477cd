"""Property: whatever JSON (or bytes) a signed webhook carries, the answer is never a 500."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atende.api import create_app
from atende.config import Settings
from atende.main import Container
from tests.support.app import seed, signed
from tests.support.payloads import text_message, webhook
from tests.support.process import free_port

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)


@st.composite
def near_valid_webhooks(draw: st.DrawFn) -> dict[str, Any]:
    """A real webhook skeleton with arbitrary values where Meta puts message fields."""
    payload = webhook([text_message("5511987654321", "oi")])
    value = payload["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    for key in draw(st.lists(st.sampled_from(["id", "from", "type", "timestamp", "text"]))):
        message[key] = draw(json_values)
    if draw(st.booleans()):
        message["type"] = draw(st.sampled_from(["image", "interactive", "reaction", "order"]))
        message[message["type"]] = draw(json_values)
    if draw(st.booleans()):
        value["statuses"] = draw(st.lists(st.dictionaries(st.text(max_size=8), json_values)))
    if draw(st.booleans()):
        value["contacts"] = draw(json_values)
    return payload


@pytest.fixture
def server_url(settings: Settings) -> Iterator[str]:
    """The app in a thread of its own, so synchronous hypothesis tests can call it over HTTP."""
    asyncio.run(_seed(settings))
    port = free_port()
    app = create_app(Container(settings))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client() as client:
            for _ in range(500):
                try:
                    client.get(f"{url}/healthz")
                    break
                except httpx.TransportError:
                    threading.Event().wait(0.01)  # the port is not open yet: nothing to await
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


async def _seed(settings: Settings) -> None:
    container = Container(settings)
    try:
        await seed(container, "http://127.0.0.1:9")
    finally:
        await container.aclose()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(json_values, near_valid_webhooks()))
def test_that_any_signed_json_gets_200_or_400(server_url: str, value: Any) -> None:
    # The standard library writes what orjson would refuse (integers beyond 64 bits).
    raw = json.dumps(value).encode()
    response = httpx.post(
        f"{server_url}/webhooks/whatsapp/acme-whatsapp", content=raw, headers=signed(raw)
    )
    assert response.status_code in {200, 400}, response.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200))
def test_that_any_signed_bytes_get_200_or_400(server_url: str, raw: bytes) -> None:
    response = httpx.post(
        f"{server_url}/webhooks/whatsapp/acme-whatsapp", content=raw, headers=signed(raw)
    )
    assert response.status_code in {200, 400}, response.text
