"""Whole conversations full of personal data leave none of it in any log line."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence

import httpx
import orjson
import pytest

from atende.assistant.port import Action, Engine, Turn
from atende.config import Settings
from atende.devtools.fake_graph import FakeGraph, Reply
from atende.kit.logging import configure_logging
from atende.main import Container
from tests.support.app import running, seed, signed
from tests.support.payloads import body, text_message, webhook
from tests.support.waiting import idle, until

CPF = "529.982.247-25"
CNPJ = "11.222.333/0001-81"
CNPJ_ALNUM = "12.ABC.345/01DE-35"
EMAIL = "maria.souza+pedidos@exemplo.com.br"
CUSTOMERS = ["5511987654321", "5521998765432", "5531991234567"]
SAYINGS = [
    f"oi, meu cpf é {CPF}",
    f"cpf sem pontos {CPF.replace('.', '').replace('-', '')}",
    f"a empresa é {CNPJ} e a filial {CNPJ_ALNUM}",
    f"meu email: {EMAIL}, telefone (11) 98765-4321 ou +55 21 99876-5432",
    "quero falar com um atendente",
]


def secrets_in(text: str) -> list[str]:
    digits = re.sub(r"\D", "", text)
    needles = [
        CPF,
        CPF.replace(".", "").replace("-", ""),
        CNPJ,
        "11222333000181",
        CNPJ_ALNUM,
        "12ABC34501DE35",
        EMAIL,
        "98765-4321",
        "99876-5432",
        *CUSTOMERS,
    ]
    found = [needle for needle in needles if needle in text]
    # Also catch a phone or document rendered with other separators.
    found += [n for n in ("52998224725", "11987654321", "21998765432") if n in digits]
    return found


class ExplodingOnce:
    """Fails the first turn with personal data in the exception, as a buggy engine might."""

    name = "exploding"

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.exploded = False

    async def reply(self, turn: Turn) -> Sequence[Action]:
        if not self.exploded:
            self.exploded = True
            raise RuntimeError(f"could not parse {turn.text!r} for {EMAIL}")
        return await self.inner.reply(turn)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(level="DEBUG", json=True, stream=stream)
    yield stream
    configure_logging(level="WARNING", json=False)


async def test_that_logs_of_whole_conversations_hold_no_personal_data(
    settings: Settings, graph: FakeGraph, captured: io.StringIO
) -> None:
    quick_retry = settings.model_copy(update={"send_backoff_base_seconds": 0.01})
    container = Container(quick_retry)
    container.turns.engine = ExplodingOnce(container.turns.engine)
    await seed(container, graph.url)
    graph.script(
        Reply.meta_error(500, 131000, f"Something went wrong for {CUSTOMERS[0]}"),
        Reply.meta_error(400, 131026, f"Message undeliverable to +{CUSTOMERS[1]}"),
    )
    path = "/webhooks/whatsapp/acme-whatsapp"
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        for saying in SAYINGS:
            for wa_id in CUSTOMERS:
                raw = body(webhook([text_message(wa_id, saying)], name="Maria Souza"))
                response = await client.post(path, content=raw, headers=signed(raw))
                assert response.status_code == 200
            await until(container, lambda: idle(container), timeout=20)
        bad = b'{"object": "whatsapp_business_account", "entry": [{"id": "' + CPF.encode() + b'"'
        assert (await client.post(path, content=bad, headers=signed(bad))).status_code == 400
    output = captured.getvalue()
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) > 20, "the scenario should have logged plenty"
    for line in lines:
        orjson.loads(line)  # every line is JSON in this mode
    assert "job failed; retrying" in output  # the exploding engine was logged, masked
    assert secrets_in(output) == []


async def test_that_the_correlation_id_travels_from_webhook_to_sender(
    container: Container, graph: FakeGraph, captured: io.StringIO
) -> None:
    await seed(container, graph.url)
    raw = body(webhook([text_message(CUSTOMERS[0], "oi")]))
    headers = {**signed(raw), "X-Request-ID": "trace-7f3a"}
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/webhooks/whatsapp/acme-whatsapp", content=raw, headers=headers
        )
        assert response.status_code == 200
        await until(container, lambda: idle(container))
    events = [orjson.loads(line) for line in captured.getvalue().splitlines() if line.strip()]
    by_event = {e["event"]: e for e in events if e.get("correlation_id") == "trace-7f3a"}
    assert {"turn done", "message sent"} <= set(by_event)
    conversation = by_event["turn done"]["conversation_id"]
    assert conversation
    assert by_event["message sent"]["conversation_id"] == conversation
