from __future__ import annotations

import json
import math
import random
import typing

import pytest

from atende.channels.types import (
    Button,
    ButtonsContent,
    ListContent,
    ListRow,
    ListSection,
    MediaContent,
    OutboundContent,
    TemplateContent,
    TextContent,
)
from atende.outbox.content import from_json, message_type, preview_text, to_json
from atende.outbox.service import MAX_TEXT, split_text

WORDS = ("pedido", "entrega", "cliente", "atendimento", "é", "de", "nota", "fiscal", "Olá")


async def _prose(length: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    text = ""
    while len(text) < length:
        text += rng.choice(WORDS) + rng.choice((" ", " ", " ", ", ", ".\n", ". "))
    return text[:length]


async def _every_content() -> list[OutboundContent]:
    return [
        TextContent("Olá, Maria! Seu pedido #123 saiu.", preview_url=True),
        ButtonsContent(
            "Posso ajudar em algo mais?",
            (Button("sim", "Sim"), Button("nao", "Não")),
            header="Atende",
            footer="Responda com um botão",
        ),
        ListContent(
            "Escolha uma opção",
            "Ver opções",
            (
                ListSection("Pedidos", (ListRow("status", "Status", "Onde está?"),)),
                ListSection(None, (ListRow("humano", "Falar com atendente"),)),
            ),
            header=None,
            footer="Atende",
        ),
        MediaContent("image", link="https://example.com/a.jpg", caption="Sua nota"),
        MediaContent("document", media_id="1234", filename="nota.pdf"),
        TemplateContent("pedido_enviado", "pt_BR", ("Maria", "#123")),
        TemplateContent("boas_vindas"),
    ]


def test_that_the_fixtures_cover_every_outbound_content_kind() -> None:
    kinds = {cls.__name__ for cls in typing.get_args(OutboundContent)}

    assert kinds == {
        "TextContent",
        "ButtonsContent",
        "ListContent",
        "MediaContent",
        "TemplateContent",
    }


async def test_that_every_content_kind_round_trips_through_stored_json() -> None:
    contents = await _every_content()
    assert {type(c) for c in contents} == set(typing.get_args(OutboundContent))

    for content in contents:
        stored = json.loads(json.dumps(to_json(content)))  # as the database column keeps it
        assert stored["kind"] == content.kind
        assert from_json(stored) == content


async def test_that_from_json_accepts_to_json_output_directly() -> None:
    for content in await _every_content():
        assert from_json(to_json(content)) == content


@pytest.mark.parametrize("data", [{"kind": "sticker", "id": "1"}, {"body": "no kind"}, {}])
def test_that_an_unknown_content_kind_raises_value_error(data: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="unknown outbound content kind"):
        from_json(data)


async def test_that_message_type_names_what_the_provider_receives() -> None:
    types = [message_type(c) for c in await _every_content()]

    assert types == [
        "text",
        "interactive",
        "interactive",
        "image",
        "document",
        "template",
        "template",
    ]


async def test_that_preview_text_is_what_a_person_reads() -> None:
    previews = [preview_text(c) for c in await _every_content()]

    assert previews == [
        "Olá, Maria! Seu pedido #123 saiu.",
        "Posso ajudar em algo mais?",
        "Escolha uma opção",
        "Sua nota",
        None,
        "[template pedido_enviado]",
        "[template boas_vindas]",
    ]


async def test_that_text_up_to_the_limit_is_one_part() -> None:
    body = await _prose(MAX_TEXT)

    assert len(body) == 4096
    assert split_text(body) == [body]


@pytest.mark.parametrize("length", [4097, 10000, 30000])
async def test_that_long_text_splits_into_parts_within_the_limit_keeping_every_word(
    length: int,
) -> None:
    body = await _prose(length)

    parts = split_text(body)

    assert len(parts) == math.ceil(length / MAX_TEXT)  # cuts land near the end of each window
    assert all(0 < len(p) <= MAX_TEXT for p in parts)
    assert " ".join(parts).split() == body.split()


async def test_that_a_split_prefers_paragraph_breaks() -> None:
    paragraphs = [(await _prose(3000, seed=n)).replace("\n", " ").strip() for n in range(3)]
    body = "\n\n".join(paragraphs)

    assert split_text(body) == paragraphs


async def test_that_a_split_prefers_line_breaks_over_spaces() -> None:
    lines = [(await _prose(2500, seed=n)).replace("\n", " ").strip() for n in range(2)]
    body = "\n".join(lines)

    assert split_text(body) == lines


async def test_that_a_split_never_cuts_inside_a_word_when_a_space_exists() -> None:
    body = " ".join(["palavra"] * 1500)

    parts = split_text(body)

    assert len(parts) > 1
    assert all(set(p.split()) == {"palavra"} for p in parts)


def test_that_a_single_huge_word_is_cut_at_the_limit() -> None:
    body = "x" * 10000

    parts = split_text(body)

    assert [len(p) for p in parts] == [4096, 4096, 1808]
    assert "".join(parts) == body


def test_that_a_custom_limit_is_honoured() -> None:
    assert split_text("um dois três quatro", limit=9) == ["um dois", "três", "quatro"]
