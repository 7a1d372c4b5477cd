"""A signed webhook in, the answer out at a fake Graph API, over real HTTP end to end."""

from __future__ import annotations

import httpx

from atende.devtools.fake_graph import FakeGraph
from atende.main import Container
from tests.support.app import PHONE_NUMBER_ID, Seeded, running, signed
from tests.support.payloads import body, text_message, webhook


async def test_that_a_signed_greeting_is_answered_at_the_graph_api(
    container: Container, seeded: Seeded, graph: FakeGraph
) -> None:
    payload = body(webhook([text_message("5511987654321", "Oi, bom dia!")]))
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/webhooks/acme-whatsapp", content=payload, headers=signed(payload)
        )
        assert response.status_code == 404  # wrong path: channel kind is part of the URL
        response = await client.post(
            "/webhooks/whatsapp/acme-whatsapp", content=payload, headers=signed(payload)
        )
        assert response.status_code == 200
        sent = await graph.wait_for_messages(1)
    message = sent[0]
    assert message.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert message.header("Authorization") == "Bearer test-access-token"
    assert message.json is not None
    assert message.json["to"] == "5511987654321"
    assert message.json["type"] == "text"
    assert message.json["text"]["body"].startswith("Olá, Maria!")
    # The customer saw "read" and a typing indicator before the reply.
    assert graph.reads
    assert graph.reads[0].json is not None
    assert graph.reads[0].json["typing_indicator"] == {"type": "text"}
