"""FAQ answers from the tenant's own documents, the same on both database engines."""

from __future__ import annotations

import pytest

from atende.assistant.faq import FaqIndex, split_passages
from atende.assistant.faq_terms import terms
from atende.demo import DEMO_FAQ, ensure_tenant
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

#: Questions whose topic is in no passage of the demo FAQ: they must get no answer (the
#: assistant then offers a human), however many words they share with a passage.
UNANSWERABLE = (
    "qual o cpf do dono?",
    "vcs vendem carro?",
    "vcs fazem entrega de pizza?",
    "qual o horario do jogo hoje",
    "qual o prazo de validade do cafe",
    "tem estacionamento?",
    "quero fazer um pedido",
    "oi",
)


def test_that_markdown_is_split_into_headed_passages() -> None:
    passages = split_passages(FAQ)
    assert [heading for heading, _ in passages] == [
        "Horário de funcionamento",
        "Entregas",
        "Trocas e devoluções",
        "Formas de pagamento",
    ]
    assert passages[1][1].startswith("Entregamos em todo o Brasil")


def test_that_a_wrapped_paragraph_reads_as_one_line_and_a_list_keeps_its_items() -> None:
    document = (
        "## Prazo\nSul: de 3 a 5 dias. Norte: de 7 a\n12 dias úteis.\n\n"
        "## Pagamento\nAceitamos:\n- PIX\n- cartão em até\n  6 vezes\n\n"
        "## Contato\nTelefone (11) 3333-4444  \nE-mail contato@loja.com.br"
    )
    assert [body for _, body in split_passages(document)] == [
        "Sul: de 3 a 5 dias. Norte: de 7 a 12 dias úteis.",
        "Aceitamos:\n- PIX\n- cartão em até 6 vezes",
        "Telefone (11) 3333-4444\nE-mail contato@loja.com.br",
    ]


def test_that_terms_drop_filler_and_meet_the_passage_words() -> None:
    # Accents, abbreviations and filler words go; inflections and everyday synonyms meet.
    assert terms("Oi, qual o horário de funcionamento de vocês?") == ["~horario", "funcion"]
    assert terms("posso trocar se nao servir?") == terms("Trocas e devoluções")
    assert terms("quero devolver") == ["~troca"]
    # A city or state is read as its region, as FAQs state delivery times.
    assert terms("vcs entregam em manaus?") == ["~entrega", "nort"]
    assert terms("moro no rio grande do sul") == ["sul"]
    assert terms("e em fortaleza, qto tempo?") == terms("nordeste prazo")


async def test_that_paraphrases_find_the_passage_that_answers_them(container: Container) -> None:
    demo = await ensure_tenant(container.sessions, "demo-faq", "Demo")
    faq = FaqIndex(container.sessions)
    await faq.replace_document(demo, "faq.md", DEMO_FAQ)

    troca = await faq.answer(demo, "posso trocar se nao servir?")
    assert troca is not None
    assert troca.heading == "Trocas e devoluções"
    manaus = await faq.answer(demo, "vcs entregam em manaus? qto fica o frete")
    assert manaus is not None
    assert manaus.heading == "Prazo de entrega por região"
    assert "Norte e Nordeste" in manaus.body
    pix = await faq.answer(demo, "vcs aceitam pix?")
    assert pix is not None
    assert pix.heading == "Formas de pagamento"


@pytest.mark.parametrize("question", UNANSWERABLE)
async def test_that_a_question_no_passage_answers_gets_no_answer(
    container: Container, question: str
) -> None:
    demo = await ensure_tenant(container.sessions, "demo-faq", "Demo")
    faq = FaqIndex(container.sessions)
    await faq.replace_document(demo, "faq.md", DEMO_FAQ)
    assert await faq.answer(demo, question) is None


async def test_that_answers_follow_the_documents_and_stay_in_their_tenant(
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
    # Another tenant's FAQ never answers for this one.
    elsewhere = await faq.answer(other, "qual o horario?")
    assert elsewhere is not None
    assert elsewhere.body == "Fechados para reforma."

    # A new version of a document is what the next question reads (the index keeps the
    # tenant's passages in memory: a change must not leave it answering from the old ones).
    await faq.replace_document(acme, "faq.md", "## Horário\nAbrimos todos os dias, 24 horas.")
    changed = await faq.answer(acme, "que horas vcs abrem?")
    assert changed is not None
    assert changed.body == "Abrimos todos os dias, 24 horas."
    await faq.replace_document(acme, "pagamento.md", "## Pagamento\nSó PIX.")

    assert [(d.name, d.passages) for d in await faq.documents(acme)] == [
        ("faq.md", 1),
        ("pagamento.md", 1),
    ]
    assert await faq.remove_document(acme, "faq.md") == 1
    assert await faq.remove_document(acme, "faq.md") == 0
    assert await faq.answer(acme, "que horas vcs abrem?") is None
    assert [d.name for d in await faq.documents(acme)] == ["pagamento.md"]
    assert [d.name for d in await faq.documents(other)] == ["faq.md"]


async def test_that_questions_reuse_the_passages_and_another_process_changes_are_read_soon(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import event

    from atende.assistant import faq as faq_module

    acme = await ensure_tenant(container.sessions, "acme", "Acme")
    served = FaqIndex(container.sessions)
    other_process = FaqIndex(container.sessions)
    await other_process.replace_document(acme, "faq.md", FAQ)
    clock = [1000.0]
    monkeypatch.setattr(faq_module.time, "monotonic", lambda: clock[0])
    assert await served.answer(acme, "qual o horario de funcionamento?") is not None

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(container.db.sync_engine, "before_cursor_execute", count)
    try:
        # Within the recheck interval a question costs no query at all.
        clock[0] += faq_module.RECHECK_SECONDS / 2
        assert await served.answer(acme, "posso trocar um produto?") is not None
        assert statements == []
        await other_process.replace_document(acme, "faq.md", "## Horário\nAbrimos 24 horas.")
        # Once it is due, a change made elsewhere is what the next question reads.
        clock[0] += faq_module.RECHECK_SECONDS
        changed = await served.answer(acme, "que horas vcs abrem?")
    finally:
        event.remove(container.db.sync_engine, "before_cursor_execute", count)
    assert changed is not None
    assert changed.body == "Abrimos 24 horas."
