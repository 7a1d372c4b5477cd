"""Voice notes: WhatsApp's media flow (id → short-lived URL → download with the token) at a fake
Graph API, transcription at a fake OpenAI-compatible endpoint, and the transcript answered as
text; without a transcription provider, or when it fails, the customer is asked to write."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from atende.assistant.voice import VOICE_FALLBACK_REPLY
from atende.config import Settings
from atende.conversations.models import ConversationEvent, Message
from atende.devtools.fake_graph import FakeGraph
from atende.devtools.fake_llm import FakeLLM
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS
from tests.support.app import running, seed, signed
from tests.support.payloads import body, wamid, webhook

OGG = b"OggS\x00\x02" + bytes(range(256)) * 8


def voice_note(wa_id: str, media_id: str) -> dict[str, object]:
    return {
        "from": wa_id,
        "id": wamid(),
        "timestamp": str(int(time.time())),
        "type": "audio",
        "audio": {"id": media_id, "mime_type": "audio/ogg; codecs=opus", "voice": True},
    }


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM() as fake:
        yield fake


async def _send_voice_note(container: Container, graph: FakeGraph) -> str:
    await seed(container, graph.url)
    graph.add_media("media-voz-1", OGG, "audio/ogg; codecs=opus")
    payload = body(webhook([voice_note("5511987654321", "media-voz-1")]))
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/webhooks/whatsapp/acme-whatsapp", content=payload, headers=signed(payload)
        )
        assert response.status_code == 200
        sent = await graph.wait_for_messages(1)
    assert sent[0].json is not None
    return str(sent[0].json["text"]["body"])


async def test_that_a_voice_note_is_transcribed_and_answered(
    settings: Settings, graph: FakeGraph, llm: FakeLLM
) -> None:
    container = Container(settings.model_copy(update={"transcribe_base_url": llm.base_url}))
    llm.transcribe_as("quero a segunda via do meu boleto")
    try:
        reply = await _send_voice_note(container, graph)
        async with container.sessions() as session:
            note = await session.scalar(
                select(Message).where(Message.direction == "in"),
                execution_options={ALL_TENANTS: True},
            )
            replied = await session.scalar(
                select(ConversationEvent).where(ConversationEvent.type == "engine_replied"),
                execution_options={ALL_TENANTS: True},
            )
    finally:
        await container.aclose()
    # The transcript was understood as a boleto request (this tenant has no ERP to ask).
    assert replied is not None
    assert replied.data["intent"] == "invoice_copy"
    assert "consultar" in reply
    (upload,) = llm.transcriptions
    assert upload.form is not None
    assert upload.form["model"] == "whisper-1"
    assert note is not None
    assert note.text == "quero a segunda via do meu boleto"
    assert note.content["transcript"] == note.text
    assert graph.downloads  # the audio really came through the media flow


async def test_that_without_a_transcription_provider_the_customer_is_asked_to_write(
    container: Container, graph: FakeGraph
) -> None:
    assert await _send_voice_note(container, graph) == VOICE_FALLBACK_REPLY
    assert not graph.downloads  # nothing to do with the audio: not even downloaded


async def test_that_a_failed_transcription_asks_the_customer_to_write(
    settings: Settings, graph: FakeGraph, llm: FakeLLM
) -> None:
    container = Container(settings.model_copy(update={"transcribe_base_url": llm.base_url}))
    llm.fail_transcription(500)
    llm.fail_transcription(500)
    try:
        reply = await _send_voice_note(container, graph)
    finally:
        await container.aclose()
    assert reply == VOICE_FALLBACK_REPLY
