"""A second copy asked for on WhatsApp and answered by the LLM agent (the demo stand-in model):
the PDF reaches WhatsApp as a document message, with the same sealed, absolute link the offline
engine sends, and the link opens on the boleto whose linha digitável was in the chat."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from atende.audit.models import AiTurn
from atende.brazil.boleto import parse_linha_digitavel
from atende.config import Settings
from atende.connectors.demo import business_today, demo_database_url, seed_demo_erp
from atende.demo import ensure_tenant
from atende.devtools.fake_graph import FakeGraph
from atende.devtools.fake_llm import FakeLLM, demo_responder
from atende.main import Container
from atende.tenancy.scope import ALL_TENANTS
from tests.e2e.test_boleto_pdf_link import MARIA_CPF, MARIA_WA_ID, is_document, post, sent
from tests.support.app import running, seed
from tests.support.payloads import text_message
from tests.support.pdf import decode_itf, page_text
from tests.support.process import free_port


@pytest.fixture
async def agent_served(
    settings: Settings, graph: FakeGraph
) -> AsyncIterator[tuple[str, Container]]:
    """The app on a known port (ATENDE_PUBLIC_URL), on the demo ERP, answered by the agent."""
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    async with FakeLLM(responder=demo_responder) as llm:
        container = Container(
            settings.model_copy(
                update={
                    "public_url": public_url,
                    "llm_base_url": llm.base_url,
                    "llm_model": "gpt-4o-mini",
                    "llm_api_key": None,
                }
            )
        )
        try:
            await seed(container, graph.url)
            await ensure_tenant(container.sessions, "acme", "Acme", {"erp": {"kind": "demo"}})
            await seed_demo_erp(demo_database_url(settings.var_dir), today=business_today())
            await asyncio.to_thread(container.nlu.warm_up)
            async with running(container, port) as url:
                assert url == public_url
                yield url, container
        finally:
            await container.aclose()


async def test_that_the_agents_second_copy_reaches_whatsapp_as_a_document(
    agent_served: tuple[str, Container], graph: FakeGraph
) -> None:
    url, container = agent_served
    async with httpx.AsyncClient(base_url=url) as client:
        await post(client, text_message(MARIA_WA_ID, f"quero a 2a via do boleto, cpf {MARIA_CPF}"))
        listed = await graph.wait_for_messages(1)
        menu: str = sent(listed[-1])["text"]["body"]
        (number,) = re.findall(r"^(\d+)\. .*\(TIT-1001\)$", menu, re.MULTILINE)
        await post(client, text_message(MARIA_WA_ID, number))
        await graph.wait_for(lambda fake: any(is_document(m) for m in fake.messages))
        answer: list[dict[str, Any]] = [sent(m) for m in graph.messages[1:]]

    async with container.sessions() as session:
        engines = list(
            await session.scalars(
                select(AiTurn.engine).order_by(AiTurn.id), execution_options={ALL_TENANTS: True}
            )
        )
    assert engines == ["llm", "llm"]
    texts = [m["text"]["body"] for m in answer if m["type"] == "text"]
    (document,) = [m["document"] for m in answer if m["type"] == "document"]
    link = document["link"]
    # The offline engine's document: absolute, under ATENDE_PUBLIC_URL, sealed (no título id,
    # no CPF in the URL), named for the boleto.
    assert link.startswith(f"{url}/api/v1/financeiro/boletos/pdf/")
    assert "TIT-1001" not in link
    assert "52998224725" not in link
    assert document["filename"] == "boleto-TIT-1001.pdf"
    assert document["caption"].startswith("Boleto com vencimento em ")
    # The text does not carry the link as well: the document is the PDF.
    assert not any(link in text for text in texts)
    linha = next(text for text in texts if text.isdigit() and len(text) == 47)

    async with httpx.AsyncClient() as anyone:
        response = await anyone.get(link)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    boleto = parse_linha_digitavel(linha)
    assert boleto.linha_digitavel_formatted in page_text(response.content)
    assert decode_itf(response.content)[0] == boleto.barcode
