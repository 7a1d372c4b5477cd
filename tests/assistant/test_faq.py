"""FAQ answers from the tenant's own documents, on both engines' full-text search."""

from __future__ import annotations

from atende.assistant.faq import FaqIndex, keywords, split_passages
from atende.demo import ensure_tenant
from atende.main import Container

FAQ = """
# Perguntas frequentes

## Horário de funcionamento
Atendemos de segunda a sexta, das 8h às 18h, e aos sábados das 9h às 13h.

## Entregas
Entregamos em todo o Brasil pelos Correios. O prazo de entrega é de 3 a 10 dias úteis.

## Trocas e devoluções
Você pode trocar ou devolver um produto em até 7 dias após o recebimento.

## Formas de pagamento
Aceitamos PIX, boleto bancário e cartão de crédito em até 6 vezes sem juros.
"""


def test_that_markdown_is_split_into_headed_passages() -> None:
    passages = split_passages(FAQ)
    assert [heading for heading, _ in passages] == [
        "Horário de funcionamento",
        "Entregas",
        "Trocas e devoluções",
        "Formas de pagamento",
    ]
    assert passages[1][1].startswith("Entregamos em todo o Brasil")


def test_that_keywords_drop_accents_and_filler_words() -> None:
    assert keywords("Oi, qual o horário de funcionamento de vocês?") == [
        "horario",
        "funcionamento",
    ]


async def test_that_questions_find_the_right_passage_and_nonsense_finds_none(
    container: Container,
) -> None:
    acme = await ensure_tenant(container.sessions, "acme", "Acme")
    other = await ensure_tenant(container.sessions, "other", "Other")
    faq = FaqIndex(container.sessions)
    assert await faq.replace_document(acme, "faq.md", FAQ) == 4
    assert await faq.replace_document(acme, "faq.md", FAQ) == 4  # replaced, not duplicated
    await faq.replace_document(other, "faq.md", "## Horário\nFechados para reforma.")

    horario = await faq.answer(acme, "qual o horario de funcionamento?")
    assert horario is not None
    assert horario.heading == "Horário de funcionamento"
    pagamento = await faq.answer(acme, "vcs aceitam pix ou cartao?")
    assert pagamento is not None
    assert pagamento.heading == "Formas de pagamento"
    trocas = await faq.answer(acme, "posso devolver o produto?")
    assert trocas is not None
    assert trocas.heading == "Trocas e devoluções"
    assert await faq.answer(acme, "qual a capital da Mongólia?") is None
    assert await faq.answer(acme, "oi") is None
    # Another tenant's FAQ never answers for this one.
    elsewhere = await faq.answer(other, "qual o horario?")
    assert elsewhere is not None
    assert elsewhere.body == "Fechados para reforma."
