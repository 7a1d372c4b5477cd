from __future__ import annotations

import pytest

from atende.channels.types import (
    Button,
    ButtonsContent,
    ListContent,
    ListRow,
    ListSection,
    MediaContent,
    Recipient,
    TemplateContent,
    TextContent,
)
from atende.channels.whatsapp.payloads import (
    MAX_TEXT,
    PayloadLimitError,
    build_mark_read,
    build_message,
    split_text,
)

PHONE = Recipient(wa_id="5511999990000")


def _rows(prefix: str, n: int) -> tuple[ListRow, ...]:
    return tuple(ListRow(id=f"{prefix}{i}", title=f"Item {prefix}{i}") for i in range(n))


# -- split_text -------------------------------------------------------------------------------


def test_split_text_returns_short_text_unchanged() -> None:
    assert split_text("Olá! Como posso ajudar?") == ["Olá! Como posso ajudar?"]


def test_split_text_keeps_text_of_exactly_the_limit_in_one_part() -> None:
    text = "a" * MAX_TEXT
    assert split_text(text) == [text]


def test_split_text_one_char_over_the_limit_gives_two_parts_within_the_limit() -> None:
    text = ("palavra " * 600)[:MAX_TEXT] + "x"
    assert len(text) == MAX_TEXT + 1
    parts = split_text(text)
    assert len(parts) == 2
    assert all(0 < len(part) <= MAX_TEXT for part in parts)
    assert " ".join(parts).split() == text.split()


def test_split_text_prefers_paragraph_break_over_later_line_breaks_and_spaces() -> None:
    first = "Primeiro parágrafo com algumas palavras."
    second = "linha um\nlinha dois com mais palavras para passar do limite"
    parts = split_text(f"{first}\n\n{second}", limit=60)
    # The window holds a paragraph break, a later line break and later spaces: the paragraph wins.
    assert parts == [first, second]


def test_split_text_prefers_line_break_over_space() -> None:
    parts = split_text("um dois\ntrês quatro cinco seis", limit=20)
    assert parts == ["um dois", "três quatro cinco", "seis"]


def test_split_text_never_cuts_a_word_that_fits() -> None:
    words = [f"palavra{i}" for i in range(50)]
    parts = split_text(" ".join(words), limit=30)
    assert [w for part in parts for w in part.split(" ")] == words
    assert all(len(part) <= 30 for part in parts)


def test_split_text_cuts_a_single_word_longer_than_the_limit() -> None:
    word = "x" * 5000
    parts = split_text(word)
    assert parts == ["x" * MAX_TEXT, "x" * (5000 - MAX_TEXT)]


def test_split_text_cuts_only_the_oversized_word_and_keeps_neighbours_whole() -> None:
    parts = split_text("antes " + "y" * 25 + " depois", limit=10)
    assert parts == ["antes", "y" * 10, "y" * 10, "y" * 5, "depois"]


def test_split_text_never_returns_empty_or_blank_parts() -> None:
    text = "a\n\n\n\n   \n\nb " + " " * 50 + "c"
    parts = split_text(text, limit=5)
    assert parts == ["a", "b", "c"]


def test_split_text_of_blank_text_gives_no_parts() -> None:
    assert split_text("") == []
    assert split_text("  \n ") == []


def test_split_text_counts_emoji_as_one_character_each() -> None:
    text = "😀" * (MAX_TEXT + 10)
    parts = split_text(text)
    assert parts == ["😀" * MAX_TEXT, "😀" * 10]


def test_split_text_does_not_separate_an_accent_or_emoji_modifier_from_its_character() -> None:
    decomposed_e = "e\u0301"  # "é" as e + combining acute accent
    assert split_text("aaaa" + decomposed_e + "bbb", limit=5) == ["aaaa", decomposed_e + "bbb"]
    thumbs_up = "👍🏽"  # thumbs up + skin tone modifier
    assert split_text("aaaa" + thumbs_up + "bb", limit=5) == ["aaaa", thumbs_up + "bb"]


def test_split_text_rejects_a_non_positive_limit() -> None:
    with pytest.raises(ValueError, match="positive"):
        split_text("abc", limit=0)


# -- recipients -------------------------------------------------------------------------------


def test_phone_recipient_goes_in_to() -> None:
    payload = build_message(PHONE, TextContent("oi"))
    assert payload["to"] == "5511999990000"
    assert "recipient" not in payload


def test_bsuid_recipient_goes_in_recipient_not_to() -> None:
    payload = build_message(Recipient(bsuid="BR.1502576394655843"), TextContent("oi"))
    assert payload["recipient"] == "BR.1502576394655843"
    assert "to" not in payload
    assert payload["recipient_type"] == "individual"


def test_phone_wins_when_both_phone_and_bsuid_are_known() -> None:
    payload = build_message(Recipient(wa_id="5511999990000", bsuid="BR.1"), TextContent("oi"))
    assert payload["to"] == "5511999990000"
    assert "recipient" not in payload


def test_recipient_without_phone_or_bsuid_is_refused() -> None:
    with pytest.raises(PayloadLimitError, match="recipient"):
        build_message(Recipient(), TextContent("oi"))


# -- text -------------------------------------------------------------------------------------


def test_text_message_json() -> None:
    assert build_message(PHONE, TextContent("Olá!", preview_url=True)) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511999990000",
        "type": "text",
        "text": {"preview_url": True, "body": "Olá!"},
    }


def test_text_of_exactly_4096_characters_is_accepted() -> None:
    payload = build_message(PHONE, TextContent("a" * MAX_TEXT))
    assert len(payload["text"]["body"]) == MAX_TEXT


def test_text_over_4096_characters_must_be_split_by_the_caller() -> None:
    with pytest.raises(PayloadLimitError, match="split_text"):
        build_message(PHONE, TextContent("a" * (MAX_TEXT + 1)))


@pytest.mark.parametrize("body", ["", "   \n"])
def test_empty_text_is_refused(body: str) -> None:
    with pytest.raises(PayloadLimitError, match="empty"):
        build_message(PHONE, TextContent(body))


# -- reply buttons ----------------------------------------------------------------------------


def test_reply_buttons_json() -> None:
    content = ButtonsContent(
        body="Quer confirmar o pedido?",
        buttons=(Button("yes", "Sim"), Button("no", "Não")),
        header="Pedido 123",
        footer="Loja Exemplo",
    )
    assert build_message(PHONE, content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511999990000",
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "text", "text": "Pedido 123"},
            "body": {"text": "Quer confirmar o pedido?"},
            "footer": {"text": "Loja Exemplo"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Sim"}},
                    {"type": "reply", "reply": {"id": "no", "title": "Não"}},
                ]
            },
        },
    }


def test_reply_buttons_without_header_and_footer_omit_them() -> None:
    interactive = build_message(PHONE, ButtonsContent("Ok?", (Button("ok", "Ok"),)))["interactive"]
    assert set(interactive) == {"type", "body", "action"}


def test_three_buttons_are_accepted_and_four_are_refused() -> None:
    three = tuple(Button(f"b{i}", f"Opção {i}") for i in range(3))
    assert (
        len(
            build_message(PHONE, ButtonsContent("Escolha", three))["interactive"]["action"][
                "buttons"
            ]
        )
        == 3
    )
    four = tuple(Button(f"b{i}", f"Opção {i}") for i in range(4))
    with pytest.raises(PayloadLimitError, match="at most 3 reply buttons, got 4"):
        build_message(PHONE, ButtonsContent("Escolha", four))


def test_no_buttons_is_refused() -> None:
    with pytest.raises(PayloadLimitError, match="at least one button"):
        build_message(PHONE, ButtonsContent("Escolha", ()))


def test_long_button_title_is_truncated_to_20_characters_ending_in_ellipsis() -> None:
    title = "Camiseta-Azul-Marinho-Tamanho-G"[:30]
    assert len(title) == 30
    content = ButtonsContent("Escolha", (Button("shirt", title),))
    reply = build_message(PHONE, content)["interactive"]["action"]["buttons"][0]["reply"]
    assert len(reply["title"]) == 20
    assert reply["title"] == title[:19] + "…"
    assert reply["id"] == "shirt"


def test_long_header_and_footer_are_truncated_to_60_characters() -> None:
    content = ButtonsContent("Ok?", (Button("ok", "Ok"),), header="h" * 61, footer="f" * 100)
    interactive = build_message(PHONE, content)["interactive"]
    assert interactive["header"]["text"] == "h" * 59 + "…"
    assert interactive["footer"]["text"] == "f" * 59 + "…"


def test_duplicate_button_ids_are_refused() -> None:
    content = ButtonsContent("Escolha", (Button("same", "Um"), Button("same", "Dois")))
    with pytest.raises(PayloadLimitError, match="duplicate button id 'same'"):
        build_message(PHONE, content)


def test_button_id_over_256_characters_is_refused_not_truncated() -> None:
    ok = ButtonsContent("Escolha", (Button("i" * 256, "Um"),))
    assert (
        build_message(PHONE, ok)["interactive"]["action"]["buttons"][0]["reply"]["id"] == "i" * 256
    )
    with pytest.raises(PayloadLimitError, match="257 characters"):
        build_message(PHONE, ButtonsContent("Escolha", (Button("i" * 257, "Um"),)))


def test_buttons_body_over_1024_characters_is_refused() -> None:
    assert build_message(PHONE, ButtonsContent("b" * 1024, (Button("ok", "Ok"),)))
    with pytest.raises(PayloadLimitError, match="1025 characters"):
        build_message(PHONE, ButtonsContent("b" * 1025, (Button("ok", "Ok"),)))


def test_empty_button_title_is_refused() -> None:
    with pytest.raises(PayloadLimitError, match="empty"):
        build_message(PHONE, ButtonsContent("Escolha", (Button("a", " "),)))


# -- lists ------------------------------------------------------------------------------------


def test_list_json() -> None:
    content = ListContent(
        body="Escolha um produto",
        button="Ver produtos",
        header="Catálogo",
        footer="Preços com frete",
        sections=(
            ListSection(
                title="Camisetas",
                rows=(
                    ListRow("p1", "Camiseta azul", "R$ 49,90"),
                    ListRow("p2", "Camiseta preta"),
                ),
            ),
            ListSection(title="Bonés", rows=(ListRow("p3", "Boné", "Tamanho único"),)),
        ),
    )
    assert build_message(PHONE, content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511999990000",
        "type": "interactive",
        "interactive": {
            "type": "list",
            "header": {"type": "text", "text": "Catálogo"},
            "body": {"text": "Escolha um produto"},
            "footer": {"text": "Preços com frete"},
            "action": {
                "button": "Ver produtos",
                "sections": [
                    {
                        "title": "Camisetas",
                        "rows": [
                            {"id": "p1", "title": "Camiseta azul", "description": "R$ 49,90"},
                            {"id": "p2", "title": "Camiseta preta"},
                        ],
                    },
                    {
                        "title": "Bonés",
                        "rows": [{"id": "p3", "title": "Boné", "description": "Tamanho único"}],
                    },
                ],
            },
        },
    }


def test_single_section_list_may_have_no_title() -> None:
    content = ListContent("Escolha", "Ver", (ListSection(None, _rows("a", 2)),))
    section = build_message(PHONE, content)["interactive"]["action"]["sections"][0]
    assert "title" not in section
    assert len(section["rows"]) == 2


def test_ten_rows_across_sections_are_accepted() -> None:
    content = ListContent(
        "Escolha",
        "Ver",
        (ListSection("A", _rows("a", 5)), ListSection("B", _rows("b", 5))),
    )
    sections = build_message(PHONE, content)["interactive"]["action"]["sections"]
    assert sum(len(s["rows"]) for s in sections) == 10


def test_eleven_rows_across_two_sections_are_refused() -> None:
    content = ListContent(
        "Escolha",
        "Ver",
        (ListSection("A", _rows("a", 6)), ListSection("B", _rows("b", 5))),
    )
    with pytest.raises(PayloadLimitError, match="at most 10 list rows in total, got 11"):
        build_message(PHONE, content)


def test_more_than_ten_sections_are_refused() -> None:
    sections = tuple(ListSection(f"S{i}", ()) for i in range(11))
    with pytest.raises(PayloadLimitError, match="at most 10 list sections, got 11"):
        build_message(PHONE, ListContent("Escolha", "Ver", sections))


def test_list_without_sections_or_with_an_empty_section_is_refused() -> None:
    with pytest.raises(PayloadLimitError, match="at least one section"):
        build_message(PHONE, ListContent("Escolha", "Ver", ()))
    with pytest.raises(PayloadLimitError, match="section 2 has no rows"):
        build_message(
            PHONE,
            ListContent("Escolha", "Ver", (ListSection("A", _rows("a", 1)), ListSection("B", ()))),
        )


def test_untitled_section_in_a_multi_section_list_is_refused() -> None:
    content = ListContent(
        "Escolha", "Ver", (ListSection("A", _rows("a", 1)), ListSection(None, _rows("b", 1)))
    )
    with pytest.raises(PayloadLimitError, match="section 2 needs a title"):
        build_message(PHONE, content)


def test_duplicate_row_ids_across_sections_are_refused() -> None:
    content = ListContent(
        "Escolha",
        "Ver",
        (ListSection("A", (ListRow("x", "Um"),)), ListSection("B", (ListRow("x", "Dois"),))),
    )
    with pytest.raises(PayloadLimitError, match="duplicate list row id 'x'"):
        build_message(PHONE, content)


def test_row_id_over_200_characters_is_refused() -> None:
    content = ListContent("Escolha", "Ver", (ListSection(None, (ListRow("r" * 201, "Um"),)),))
    with pytest.raises(PayloadLimitError, match="201 characters"):
        build_message(PHONE, content)


def test_long_list_labels_are_truncated_with_ellipsis() -> None:
    content = ListContent(
        body="Escolha",
        button="Ver todos os produtos da loja",
        sections=(
            ListSection(
                "Uma seção com título bem comprido",
                (ListRow("p1", "Tênis de corrida ultraleve edição especial", "d" * 80),),
            ),
        ),
    )
    action = build_message(PHONE, content)["interactive"]["action"]
    assert action["button"] == "Ver todos os produt…"
    assert len(action["button"]) == 20
    section = action["sections"][0]
    assert len(section["title"]) <= 24
    assert section["title"].endswith("…")
    row = section["rows"][0]
    assert row["title"] == "Tênis de corrida ultral…"
    assert row["description"] == "d" * 71 + "…"


def test_list_body_over_4096_characters_is_refused() -> None:
    content = ListContent("b" * 4097, "Ver", (ListSection(None, _rows("a", 1)),))
    with pytest.raises(PayloadLimitError, match="4097 characters"):
        build_message(PHONE, content)


# -- media ------------------------------------------------------------------------------------


def test_image_by_link_with_caption_json() -> None:
    content = MediaContent("image", link="https://example.com/p.jpg", caption="Camiseta azul")
    assert build_message(PHONE, content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511999990000",
        "type": "image",
        "image": {"link": "https://example.com/p.jpg", "caption": "Camiseta azul"},
    }


def test_document_by_uploaded_id_with_filename_json() -> None:
    content = MediaContent("document", media_id="1234567890", filename="boleto.pdf")
    assert build_message(PHONE, content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511999990000",
        "type": "document",
        "document": {"id": "1234567890", "filename": "boleto.pdf"},
    }


def test_image_ignores_filename_which_only_documents_have() -> None:
    content = MediaContent("image", media_id="42", filename="foto.jpg")
    assert build_message(PHONE, content)["image"] == {"id": "42"}


def test_media_with_both_link_and_id_is_refused() -> None:
    with pytest.raises(
        PayloadLimitError, match="exactly one of a link or an uploaded media id, got both"
    ):
        build_message(PHONE, MediaContent("image", link="https://example.com/a.jpg", media_id="1"))


def test_media_with_neither_link_nor_id_is_refused() -> None:
    with pytest.raises(PayloadLimitError, match="got neither"):
        build_message(PHONE, MediaContent("document"))


def test_unknown_media_type_is_refused() -> None:
    with pytest.raises(PayloadLimitError, match="media type"):
        build_message(PHONE, MediaContent("video", link="https://example.com/v.mp4"))


def test_long_caption_is_truncated_to_1024_characters() -> None:
    content = MediaContent("image", link="https://example.com/p.jpg", caption="c" * 2000)
    caption = build_message(PHONE, content)["image"]["caption"]
    assert len(caption) == 1024
    assert caption.endswith("…")


# -- templates --------------------------------------------------------------------------------


def test_template_with_body_parameters_json() -> None:
    content = TemplateContent("pedido_enviado", "pt_BR", ("Maria", "#123"))
    assert build_message(PHONE, content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511999990000",
        "type": "template",
        "template": {
            "name": "pedido_enviado",
            "language": {"code": "pt_BR"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Maria"},
                        {"type": "text", "text": "#123"},
                    ],
                }
            ],
        },
    }


def test_template_without_parameters_omits_components() -> None:
    template = build_message(PHONE, TemplateContent("hello_world", "en_US"))["template"]
    assert template == {"name": "hello_world", "language": {"code": "en_US"}}


def test_template_without_name_is_refused() -> None:
    with pytest.raises(PayloadLimitError, match="name"):
        build_message(PHONE, TemplateContent(""))


# -- mark as read -----------------------------------------------------------------------------


def test_mark_read_json() -> None:
    assert build_mark_read("wamid.ABC", typing=False) == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.ABC",
    }


def test_mark_read_with_typing_adds_the_typing_indicator() -> None:
    assert build_mark_read("wamid.ABC", typing=True) == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.ABC",
        "typing_indicator": {"type": "text"},
    }
