"""Choosing from a numbered list the way customers answer it."""

from __future__ import annotations

from datetime import date

import pytest

from atende.assistant.dialogue.choice import ChoiceStatus, Option, choose

# Maria's two boletos (same amount, one overdue) and a third one due in March.
OVERDUE = Option("TIT-1001", 18485, date(2026, 11, 27), overdue=True)
OPEN = Option("TIT-1002", 18485, date(2026, 12, 22), overdue=False)
MARCH = Option("TIT-1003", 18935, date(2027, 3, 5), overdue=False)
BOLETOS = [OVERDUE, OPEN, MARCH]


@pytest.mark.parametrize(
    ("text", "chosen"),
    [
        ("2", OPEN),
        ("o 1", OVERDUE),
        ("o 2º", OPEN),
        ("opção 3", MARCH),
        ("o primeiro", OVERDUE),
        ("a segunda", OPEN),
        ("quero o terceiro por favor", MARCH),
        ("o dois", OPEN),
        ("o último", MARCH),
        ("o penúltimo", OPEN),
        ("o de 189,35", MARCH),
        ("R$ 189,35", MARCH),
        ("o de 189", MARCH),
        ("o que venceu", OVERDUE),
        ("o vencido", OVERDUE),
        ("o de março", MARCH),
        ("o de dezembro", OPEN),
        ("o do dia 27/11", OVERDUE),
        ("o que vence dia 22", OPEN),
        ("o mais antigo", OVERDUE),
        ("o mais recente", MARCH),
        ("o mais caro", MARCH),
        ("TIT-1002", OPEN),
    ],
)
def test_that_the_item_meant_is_chosen(text: str, chosen: Option) -> None:
    choice = choose(BOLETOS, text)
    assert (choice.status, choice.chosen) == (ChoiceStatus.chosen, chosen)


@pytest.mark.parametrize(
    ("text", "candidates"),
    [
        ("esse de 184,85", (OVERDUE, OPEN)),
        ("o que ainda não venceu", (OPEN, MARCH)),
        ("o mais barato", (OVERDUE, OPEN)),
    ],
)
def test_that_an_answer_that_fits_several_items_is_ambiguous(
    text: str, candidates: tuple[Option, ...]
) -> None:
    choice = choose(BOLETOS, text)
    assert (choice.status, choice.candidates) == (ChoiceStatus.ambiguous, candidates)
    assert choice.chosen is None


@pytest.mark.parametrize("text", ["o 7", "o de 500,00", "o de abril"])
def test_that_an_answer_that_fits_no_item_is_unmatched(text: str) -> None:
    assert choose(BOLETOS, text).status is ChoiceStatus.unmatched


@pytest.mark.parametrize(
    "text",
    [
        "quero a segunda via",
        "2a via",
        "só um segundo",
        "segunda-feira eu pago",
        "quanto eu devo no total?",
        "qual o horário de vocês?",
        "meu cpf é 529.982.247-25",
        "oi",
    ],
)
def test_that_a_message_about_something_else_chooses_nothing(text: str) -> None:
    assert choose(BOLETOS, text).status is ChoiceStatus.none


def test_that_products_are_chosen_by_a_word_of_their_name() -> None:
    products = [
        Option("CAN-001", 3990, name="Caneca de Cerâmica Café Coado 350 ml"),
        Option("CAN-002", 8990, name="Caneca Térmica Inox 500 ml"),
    ]
    assert choose(products, "a térmica").chosen == products[1]
    assert choose(products, "a de cerâmica").chosen == products[0]
    assert choose(products, "a caneca").status is ChoiceStatus.ambiguous
    assert choose(products, "a de 39,90").chosen == products[0]


def test_that_options_survive_the_session_memory_and_old_memory_still_loads() -> None:
    assert Option.from_memory(OVERDUE.to_memory()) == OVERDUE
    assert Option.from_memory("TIT-1001") == Option("TIT-1001")
    assert choose([Option("TIT-1001"), Option("TIT-1002")], "o segundo").chosen == Option(
        "TIT-1002"
    )


@pytest.mark.parametrize("text", ["os dois", "ambos pfv", "quero os 2", "manda os dois boletos"])
def test_that_every_option_can_be_asked_for(text: str) -> None:
    options = [Option("TIT-1", 18485), Option("TIT-2", 18485)]
    choice = choose(options, text)
    assert choice.status is ChoiceStatus.every
    assert [option.id for option in choice.candidates] == ["TIT-1", "TIT-2"]
