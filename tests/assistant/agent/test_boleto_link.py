"""The LLM agent's second copy carries the same sealed PDF link as the offline engine and the
Business API: the tool result the model sees, and so the answer, hold a link that opens."""

from __future__ import annotations

import json
from typing import Any

import httpx

from atende.api import create_app
from atende.brazil.boleto import parse_linha_digitavel
from atende.devtools.fake_llm import ChatRequest, Step, ToolCall
from tests.assistant.agent.support import Chat, World, records
from tests.support.pdf import decode_itf, page_text

MARIA = "529.982.247-25"


def tool_result(request: ChatRequest) -> dict[str, Any]:
    last = request.last_message or {}
    assert last.get("role") == "tool"
    result: dict[str, Any] = json.loads(str(last["content"]))
    return result


async def test_that_the_agents_second_copy_sends_the_sealed_pdf_link(world: World) -> None:
    world.llm.call_tools(ToolCall("identify_customer", {"document": "[CPF_1]"}))
    world.llm.call_tools(ToolCall("boleto_second_copy", {"titulo_id": "TIT-1001"}))
    seen: dict[str, Any] = {}

    def answer(request: ChatRequest) -> Step:
        seen.update(tool_result(request))
        return Step.reply(
            f"Aqui está a 2ª via. Linha digitável: {seen['linha_digitavel']}\n"
            f"PDF: {seen['pdf_url']}"
        )

    world.llm.responder = answer
    reply = await Chat(world).say(f"quero a 2a via do boleto TIT-1001, cpf {MARIA}")

    (record,) = await records(world.container)
    assert record.fallback_reason is None
    assert [call["name"] for call in record.tool_calls][-1] == "boleto_second_copy"
    public_url = world.container.settings.public_url
    link = str(seen["pdf_url"])
    assert link.startswith(f"{public_url}/api/v1/financeiro/boletos/pdf/")
    assert "TIT-1001" not in link
    assert "52998224725" not in link
    assert f"PDF: {link}" in reply

    # The link opens (through the app, as WhatsApp's media servers would fetch it)...
    app = create_app(world.container, workers=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=public_url
    ) as anyone:
        response = await anyone.get(link)
    assert response.status_code == 200, response.text
    # ...on the very boleto whose linha digitável the model was given.
    boleto = parse_linha_digitavel(str(seen["linha_digitavel"]))
    assert boleto.linha_digitavel_formatted in page_text(response.content)
    assert decode_itf(response.content)[0] == boleto.barcode
