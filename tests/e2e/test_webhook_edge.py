"""The WhatsApp webhook edge over real HTTP: verify, record once, answer fast, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from atende.channels.models import ProviderEvent
from atende.devtools.fake_graph import FakeGraph
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS
from tests.support.app import APP_SECRET, VERIFY_TOKEN, Seeded, running, signed
from tests.support.payloads import body, status, text_message, wamid, webhook
from tests.support.waiting import all_messages, count_messages, idle, until

PATH = "/webhooks/whatsapp/acme-whatsapp"


@pytest.fixture
async def client(container: Container, seeded: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    async with running(container) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def test_that_the_handshake_echoes_the_challenge(client: httpx.AsyncClient) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    response = await client.get(PATH, params=params)
    assert response.status_code == 200
    assert response.text == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
    ],
)
async def test_that_a_bad_handshake_is_forbidden(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get(PATH, params=params)
    assert response.status_code == 403


async def test_that_an_unknown_channel_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/webhooks/whatsapp/nope", params={"hub.mode": "subscribe"})
    assert response.status_code == 404
    sandbox = await client.post("/webhooks/whatsapp/acme-sandbox", content=b"{}")
    assert sandbox.status_code == 404


async def test_that_wrong_or_missing_signatures_store_nothing(
    client: httpx.AsyncClient, container: Container
) -> None:
    payload = body(webhook([text_message("5511987654321", "oi")]))
    wrong = await client.post(PATH, content=payload, headers=signed(payload, "not-the-secret"))
    missing = await client.post(PATH, content=payload)
    reserialised = json.dumps(json.loads(payload), indent=1).encode()
    resigned_original = await client.post(PATH, content=reserialised, headers=signed(payload))
    assert [wrong.status_code, missing.status_code, resigned_original.status_code] == [401] * 3
    assert wrong.headers["content-type"] == "application/problem+json"
    assert await count_messages(container) == 0


async def test_that_malformed_json_is_a_400_and_stores_nothing(
    client: httpx.AsyncClient, container: Container
) -> None:
    for raw in (b"{not json", b"[1, 2, 3]", b'"text"', b""):
        response = await client.post(PATH, content=raw, headers=signed(raw))
        assert response.status_code == 400, raw
    assert await count_messages(container) == 0


async def test_that_an_oversized_body_is_refused_before_parsing(
    client: httpx.AsyncClient, container: Container
) -> None:
    limit = container.settings.webhook_max_body_bytes
    payload = body(webhook([text_message("5511987654321", "x" * (limit + 10))]))
    response = await client.post(PATH, content=payload, headers=signed(payload))
    assert response.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    streamed = await client.post(PATH, content=chunks(), headers=signed(payload))
    assert streamed.status_code == 413
    assert await count_messages(container) == 0


async def test_that_a_redelivered_message_is_answered_once(
    client: httpx.AsyncClient, container: Container, graph: FakeGraph
) -> None:
    payload = body(webhook([text_message("5511987654321", "oi", message_id=wamid())]))
    for _ in range(3):
        response = await client.post(PATH, content=payload, headers=signed(payload))
        assert response.status_code == 200
    await until(container, lambda: idle(container))
    assert await count_messages(container, direction="in") == 1
    assert len(graph.messages) == 1


async def test_that_a_batch_of_entries_and_changes_is_recorded_whole(
    client: httpx.AsyncClient, container: Container, graph: FakeGraph
) -> None:
    first = webhook([text_message("5511911111111", "oi")], name="Ana")
    second = webhook([text_message("5521922222222", "bom dia")], name="Bia")
    account = {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": [*first["entry"][0]["changes"], account]},
            second["entry"][0],
        ],
    }
    raw = body(payload)
    response = await client.post(PATH, content=raw, headers=signed(raw))
    assert response.status_code == 200
    await graph.wait_for_messages(2)
    assert sorted(m.json["to"] for m in graph.messages if m.json) == [
        "5511911111111",
        "5521922222222",
    ]
    async with container.sessions() as session:
        events = list(
            await session.scalars(select(ProviderEvent), execution_options={ALL_TENANTS: True})
        )
    assert [e.kind for e in events] == ["account_update"]


async def test_that_unknown_message_types_are_stored_and_acknowledged(
    client: httpx.AsyncClient, container: Container, graph: FakeGraph
) -> None:
    future = {
        "from": "5511987654321",
        "id": wamid(),
        "timestamp": "1767225600",
        "type": "hologram",
        "hologram": {"depth": 3},
        "brand_new_field": [1, 2],
    }
    raw = body(webhook([future]))
    response = await client.post(PATH, content=raw, headers=signed(raw))
    assert response.status_code == 200
    await until(container, lambda: idle(container))
    stored = [m for m in await all_messages(container) if m.direction == "in"]
    assert len(stored) == 1
    assert stored[0].type == "unsupported"
    assert stored[0].content["hologram"] == {"depth": 3}


async def test_that_statuses_only_move_forward_even_out_of_order(
    client: httpx.AsyncClient, container: Container, graph: FakeGraph
) -> None:
    raw = body(webhook([text_message("5511987654321", "oi")]))
    await client.post(PATH, content=raw, headers=signed(raw))
    await until(container, lambda: idle(container))
    reply = next(m for m in await all_messages(container) if m.direction == "out")
    assert reply.status == "sent"
    provider_id = reply.provider_message_id
    assert provider_id is not None

    async def deliver(*states: tuple[str, int | None]) -> str:
        for state, code in states:
            payload = body(webhook(statuses=[status(provider_id, state, code=code)]))
            response = await client.post(PATH, content=payload, headers=signed(payload))
            assert response.status_code == 200
        row = next(m for m in await all_messages(container) if m.id == reply.id)
        return row.status

    assert await deliver(("read", None), ("delivered", None), ("sent", None)) == "read"
    assert await deliver(("failed", 131026)) == "failed"
    assert await deliver(("delivered", None), ("read", None)) == "failed"
    row = next(m for m in await all_messages(container) if m.id == reply.id)
    assert row.error_code == "131026"


async def test_that_the_app_secret_is_per_channel(client: httpx.AsyncClient) -> None:
    payload = body(webhook([text_message("5511987654321", "oi")]))
    ok = await client.post(PATH, content=payload, headers=signed(payload, APP_SECRET))
    assert ok.status_code == 200


async def test_that_a_status_for_an_unknown_message_is_kept_but_a_stale_one_is_not(
    client: httpx.AsyncClient, container: Container, graph: FakeGraph
) -> None:
    raw = body(webhook([text_message("5511987654321", "oi")]))
    await client.post(PATH, content=raw, headers=signed(raw))
    await until(container, lambda: idle(container))
    reply = next(m for m in await all_messages(container) if m.direction == "out")
    assert reply.provider_message_id is not None
    for item in (status(reply.provider_message_id, "sent"), status("wamid.elsewhere", "read")):
        payload = body(webhook(statuses=[item]))
        assert (
            await client.post(PATH, content=payload, headers=signed(payload))
        ).status_code == 200
    async with container.sessions() as session:
        events = list(
            await session.scalars(select(ProviderEvent), execution_options={ALL_TENANTS: True})
        )
    assert [(e.kind, e.payload["id"]) for e in events] == [
        ("status_unknown_message", "wamid.elsewhere")
    ]
