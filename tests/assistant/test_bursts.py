"""A burst of several requests is answered request by request, in the order asked, through the
whole pipeline (sandbox channel, burst window, offline engine, outbox)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from atende.assistant.dialogue.burst import clauses
from atende.channels.text import MAX_TEXT
from atende.config import Settings
from atende.connectors.demo.seed import PRODUCTS
from atende.demo import sandbox_token, seed_demo
from atende.main import Container

PHONE = "+55 41 90000-0016"


@pytest.fixture
async def bursty(settings: Settings) -> AsyncIterator[Container]:
    # A window wide enough that messages submitted back to back always land in one turn.
    burst = settings.model_copy(update={"burst_window_seconds": 1.0, "burst_max_seconds": 10.0})
    container = Container(burst)
    await seed_demo(container.sessions, container.box, container.settings)
    await container.start_workers(recover_pending=False)
    yield container
    await container.aclose()


async def burst(container: Container, fragments: list[str]) -> list[str]:
    """Send ``fragments`` as one burst; the texts of every reply, in the order sent."""
    sandbox = container.sandbox
    channel = await sandbox.channel("demo-sandbox", sandbox_token())
    last = ""
    for fragment in fragments:
        last = await sandbox.submit(channel, PHONE, fragment)
    answer = await sandbox.replies(channel, PHONE, message_id=last, after=0, wait=30)
    return [str(reply.get("text") or "") for reply in answer.replies]


def positions(said: str, codes: list[str]) -> list[int]:
    return [said.find(code) for code in codes]


async def test_that_ten_stock_questions_sent_together_are_all_answered_in_order(
    bursty: Container,
) -> None:
    codes = [product.sku for product in PRODUCTS[:10]]

    replies = await burst(bursty, [f"tem {code}?" for code in codes])

    said = "\n".join(replies)
    found = positions(said, codes)
    assert -1 not in found, [code for code, at in zip(codes, found, strict=True) if at < 0]
    assert found == sorted(found)
    assert all(len(reply) <= MAX_TEXT for reply in replies)


async def test_that_one_message_listing_five_codes_gets_each_of_them(bursty: Container) -> None:
    codes = ["CAM-001", "CAF-002", "CAN-002", "TEN-001", "CAM-003"]

    replies = await burst(bursty, [f"vcs tem {', '.join(codes[:-1])} e {codes[-1]}?"])

    said = "\n".join(replies)
    found = positions(said, codes)
    assert -1 not in found
    assert found == sorted(found)
    assert "sem estoque" in said  # CAM-003


async def test_that_every_product_of_the_catalogue_asked_in_one_burst_is_answered(
    bursty: Container,
) -> None:
    codes = [product.sku for product in PRODUCTS]
    fragments = [f"e o {code}, tem?" for code in codes] + [f"{code} ainda tem?" for code in codes]

    replies = await burst(bursty, fragments)

    said = "\n".join(replies)
    assert all(code in said for code in codes)
    assert all(len(reply) <= MAX_TEXT for reply in replies)


async def test_that_fragments_of_one_request_stay_one_request(bursty: Container) -> None:
    replies = await burst(bursty, ["oi", "queria saber", "do meu pedido"])

    assert len(replies) == 1
    assert "CPF ou CNPJ" in replies[0]


async def test_that_a_request_that_needs_an_answer_first_keeps_the_others(
    bursty: Container,
) -> None:
    replies = await burst(bursty, ["quero a 2a via do boleto", "tem CAF-002?"])

    said = "\n".join(replies)
    assert "CPF ou CNPJ" in said
    assert "tem CAF-002?" in said  # told plainly that it comes next


async def test_that_a_kept_request_is_answered_once_the_first_is_done(bursty: Container) -> None:
    await burst(bursty, ["quero a 2a via do boleto", "tem CAF-002?"])
    await burst(bursty, ["529.982.247-25"])
    before = await burst(bursty, ["12/04/1986"])
    assert "Café Moído" not in "\n".join(before)  # still choosing the boleto

    after = await burst(bursty, ["o segundo"])

    said = "\n".join(after[len(before) :])
    assert said.index("linha digitável") < said.index("Café Moído Tradicional 500 g")


async def test_that_a_greeting_before_stock_questions_is_not_a_product(bursty: Container) -> None:
    replies = await burst(bursty, ["oi", "vcs tem CAM-001?", "e CAF-002?", "e caneca?"])

    said = "\n".join(replies)
    assert said.index("CAM-001") < said.index("CAF-002") < said.index("CAN-001")
    assert "não encontrei" not in said.lower()


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        (
            "oi quero 2a via, ah e tambem saber do meu pedido",
            ["oi quero 2a via", "ah e tambem saber do meu pedido"],
        ),
        (
            "tudo bem? outra coisa: vcs abrem sabado?",
            ["tudo bem?", "outra coisa: vcs abrem sabado?"],
        ),
        ("quero a 2a via. Além disso, o frete", ["quero a 2a via.", "Além disso, o frete"]),
        # A cue at the start cuts nothing; a line without one is left whole.
        ("e também o rastreio", ["e também o rastreio"]),
        ("quero saber do pedido e do boleto", ["quero saber do pedido e do boleto"]),
    ],
)
def test_that_a_line_is_cut_where_a_second_request_is_announced(
    line: str, parts: list[str]
) -> None:
    assert clauses(line) == parts
