"""The sandbox channel over HTTP: same pipeline as WhatsApp, a terminal on the other end."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest

from atende.chat import Answer, render, run_chat
from atende.main import Container
from tests.support.app import SANDBOX_TOKEN, Seeded, running

AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}


@pytest.fixture
async def client(container: Container, seeded: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    async with running(container) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def test_that_a_sandbox_message_is_answered_through_the_outbox(
    client: httpx.AsyncClient,
) -> None:
    posted = await client.post(
        "/sandbox/acme-sandbox/messages",
        json={"from": "(11) 98765-4321", "text": "boa tarde", "name": "João Silva"},
        headers=AUTH,
    )
    assert posted.status_code == 202
    message_id = posted.json()["message_id"]
    got = await client.get(
        "/sandbox/acme-sandbox/replies",
        params={"from": "+5511987654321", "message_id": message_id, "wait": 10},
        headers=AUTH,
    )
    body = got.json()
    assert body["answered"] is True
    (reply,) = body["replies"]
    assert reply["text"].startswith("Olá, João! 👋 Eu sou a Ana")
    later = await client.get(
        "/sandbox/acme-sandbox/replies",
        params={"from": "11987654321", "after": body["last_id"]},
        headers=AUTH,
    )
    assert later.json()["replies"] == []


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/sandbox/acme-sandbox/messages", {}, 401),
        ("/sandbox/acme-sandbox/messages", {"Authorization": "Bearer wrong"}, 401),
        ("/sandbox/nope/messages", AUTH, 404),
        ("/sandbox/acme-whatsapp/messages", AUTH, 404),
    ],
)
async def test_that_sandbox_access_is_checked(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], status: int
) -> None:
    response = await client.post(path, json={"from": "11987654321", "text": "oi"}, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "payload",
    [
        {"from": "chame-me-maria", "text": "oi"},
        {"from": "11987654321", "text": ""},
        {"from": "11987654321", "text": "   "},
        {"text": "oi"},
    ],
)
async def test_that_bad_sandbox_input_is_a_400_without_echoing_it(
    client: httpx.AsyncClient, payload: dict[str, str]
) -> None:
    response = await client.post("/sandbox/acme-sandbox/messages", json=payload, headers=AUTH)
    assert response.status_code == 400
    assert "chame-me-maria" not in response.text


class Scripted:
    """A transport that answers every message with a fixed reply, to test the chat loop."""

    def __init__(self, reply: dict[str, object]) -> None:
        self.said: list[str] = []
        self.reply = reply

    async def say(self, phone: str, text: str, name: str | None) -> str:
        self.said.append(text)
        return f"m{len(self.said)}"

    async def wait(self, phone: str, message_id: str | None, after: int, timeout: float) -> Answer:
        if message_id is None:  # where this customer's history ends
            return Answer(False, [], 0)
        return Answer(True, [{**self.reply, "id": after + 1}], after + 1)

    async def close(self) -> None:
        return None


async def test_that_the_chat_loop_skips_blank_lines_and_prints_one_json_per_reply() -> None:
    transport = Scripted({"type": "text", "text": "olá", "content": {"kind": "text"}})
    out = io.StringIO()
    await run_chat(
        transport,
        phone="1",
        name=None,
        timeout=1,
        stdin=io.StringIO("oi\n\n  \ntchau\n"),
        stdout=out,
    )
    assert transport.said == ["oi", "tchau"]
    assert out.getvalue().splitlines() == [
        '{"type":"text","text":"olá","content":{"kind":"text"},"id":1}',
        '{"type":"text","text":"olá","content":{"kind":"text"},"id":2}',
    ]


def test_that_buttons_and_lists_render_as_numbered_options() -> None:
    buttons = {
        "text": "Escolha:",
        "content": {"kind": "buttons", "buttons": [{"id": "a", "title": "Boleto"}]},
    }
    listing = {
        "text": "Seus títulos:",
        "content": {
            "kind": "list",
            "sections": [{"rows": [{"id": "1", "title": "Título 1"}, {"id": "2", "title": "T2"}]}],
        },
    }
    assert render(buttons) == "Escolha:\n  [1] Boleto"
    assert render(listing) == "Seus títulos:\n  [1] Título 1\n  [2] T2"
