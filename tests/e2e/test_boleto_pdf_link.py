"""A second copy asked for on WhatsApp: the PDF link the customer gets opens, and its boleto is
the one in the chat. Real HTTP end to end: signed webhooks in, the fake Graph API recording what
WhatsApp was asked to send, the link fetched from the running app like Meta's media servers do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from atende.brazil.boleto import parse_linha_digitavel
from atende.config import Settings
from atende.connectors.demo import business_today, demo_database_url, seed_demo_erp
from atende.demo import ensure_tenant
from atende.devtools.fake_graph import FakeGraph, Recorded
from atende.main import Container
from tests.support.app import PHONE_NUMBER_ID, Seeded, running, seed, signed
from tests.support.payloads import body, text_message, wamid, webhook
from tests.support.pdf import decode_itf, page_text
from tests.support.process import free_port

MARIA_WA_ID = "5511987654321"  # the demo customer's phone: verified by it
MARIA_CPF = "529.982.247-25"
PATH = "/webhooks/whatsapp/acme-whatsapp"


@pytest.fixture
async def served(
    settings: Settings, graph: FakeGraph
) -> AsyncIterator[tuple[str, Container, Seeded]]:
    """The app on a known port, with ATENDE_PUBLIC_URL pointing at it, on the demo ERP."""
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    container = Container(settings.model_copy(update={"public_url": public_url}))
    try:
        seeded = await seed(container, graph.url)
        await ensure_tenant(container.sessions, "acme", "Acme", {"erp": {"kind": "demo"}})
        await seed_demo_erp(demo_database_url(settings.var_dir), today=business_today())
        # Trained here rather than in the app's start-up, whose wait for the port is bounded.
        await asyncio.to_thread(container.nlu.warm_up)
        async with running(container, port) as url:
            assert url == public_url
            yield url, container, seeded
    finally:
        await container.aclose()


def list_reply(wa_id: str, row_id: str, title: str) -> dict[str, Any]:
    return {
        "from": wa_id,
        "id": wamid(),
        "timestamp": text_message(wa_id, "")["timestamp"],
        "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": row_id, "title": title}},
    }


async def post(client: httpx.AsyncClient, message: dict[str, Any]) -> None:
    raw = body(webhook([message]))
    response = await client.post(PATH, content=raw, headers=signed(raw))
    assert response.status_code == 200


def is_document(message: Recorded) -> bool:
    return message.json is not None and message.json.get("type") == "document"


def sent(message: Recorded) -> dict[str, Any]:
    assert message.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert message.json is not None
    return message.json


async def test_that_the_boleto_pdf_sent_on_whatsapp_opens_and_carries_the_chats_barcode(
    served: tuple[str, Container, Seeded], graph: FakeGraph
) -> None:
    url, _container, _seeded = served
    async with httpx.AsyncClient(base_url=url) as client:
        await post(client, text_message(MARIA_WA_ID, "oi, preciso da 2a via do boleto"))
        asked = await graph.wait_for_messages(1)
        assert "CPF" in sent(asked[-1])["text"]["body"]
        await post(client, text_message(MARIA_WA_ID, MARIA_CPF))
        listed = await graph.wait_for_messages(2)
        # Two open boletos: WhatsApp shows a list; the customer taps the overdue one.
        menu = sent(listed[-1])
        assert menu["type"] == "interactive"
        assert menu["interactive"]["type"] == "list"
        sections = menu["interactive"]["action"]["sections"]
        rows = [row for section in sections for row in section["rows"]]
        chosen = next(row for row in rows if row["id"] == "TIT-1001")
        await post(client, list_reply(MARIA_WA_ID, chosen["id"], chosen["title"]))
        await graph.wait_for(lambda fake: any(is_document(m) for m in fake.messages))
        answer = [sent(m) for m in graph.messages[2:]]

    texts = [m["text"]["body"] for m in answer if m["type"] == "text"]
    (document,) = [m["document"] for m in answer if m["type"] == "document"]
    link = document["link"]
    # Absolute, under ATENDE_PUBLIC_URL, sealed: no título id, no CPF in the URL.
    assert link.startswith(f"{url}/api/v1/financeiro/boletos/pdf/")
    assert "TIT-1001" not in link
    assert "52998224725" not in link
    assert document["filename"] == "boleto-TIT-1001.pdf"
    linha = next(text for text in texts if text.isdigit() and len(text) == 47)

    # Fetched like Meta's media servers do: no token, the link is the credential.
    async with httpx.AsyncClient() as anyone:
        response = await anyone.get(link)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF")

    boleto = parse_linha_digitavel(linha)
    # The linha digitável printed on the PDF is the one sent in the chat...
    assert boleto.linha_digitavel_formatted in page_text(pdf)
    # ...and the bars a bank's scanner reads encode the same 44-digit barcode.
    digits, _narrow = decode_itf(pdf)
    assert digits == boleto.barcode
