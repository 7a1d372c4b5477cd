"""Counts that agree with their nouns: never "1 tentativas" or "2 boleto(s)"."""

from __future__ import annotations

import pytest

from atende.brazil.plural import count_of, plural_of


@pytest.mark.parametrize(
    ("count", "noun", "shown"),
    [
        (1, "boleto", "1 boleto"),
        (2, "boleto", "2 boletos"),
        (0, "boleto", "0 boletos"),
        (1, "tentativa", "1 tentativa"),
        (2, "tentativa", "2 tentativas"),
        (1, "dia", "1 dia"),
        (10, "dia", "10 dias"),
        (3, "unidade", "3 unidades"),
        (11, "dígito", "11 dígitos"),
    ],
)
def test_that_a_count_agrees_with_its_noun(count: int, noun: str, shown: str) -> None:
    assert count_of(count, noun) == shown


@pytest.mark.parametrize(
    ("singular", "plural"),
    [
        ("item", "itens"),
        ("real", "reais"),
        ("mês", "meses"),
        ("mulher", "mulheres"),
        ("opção", "opções"),
        ("pedido", "pedidos"),
    ],
)
def test_that_regular_plurals_are_formed(singular: str, plural: str) -> None:
    assert plural_of(singular) == plural


def test_that_an_irregular_plural_is_given_in_full() -> None:
    assert count_of(2, "pão", "pães") == "2 pães"
