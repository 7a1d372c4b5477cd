"""The one rule every adapter uses to tell whether a written order number names an order."""

from __future__ import annotations

import pytest

from atende.connectors.order_numbers import names_order, parse_order_number


@pytest.mark.parametrize(
    ("written", "known_as"),
    [
        ("PED-5001", "PED-5001"),
        ("ped-5001", "PED-5001"),
        ("PED5001", "PED-5001"),
        ("5001", "PED-5001"),
        ("#5001", "PED-5001"),
        ("nº 5001", "PED-5001"),
        ("n° 5001", "PED-5001"),
        ("N. 5001", "PED-5001"),
        ("pedido 5001", "PED-5001"),
        ("0001", "PED-2026-0001"),
        ("2026-0001", "PED-2026-0001"),
        ("PED-5002", "5002"),
        ("#1870005002", "1870005002"),
        ("ABC", "abc"),
    ],
)
def test_that_the_ways_customers_write_a_number_name_the_order(written: str, known_as: str) -> None:
    assert names_order(written, known_as)


@pytest.mark.parametrize(
    ("written", "known_as"),
    [
        ("5003", "PED-5001"),
        ("OV-5001", "PED-5001"),
        ("2025-0001", "PED-2026-0001"),
        ("50", "PED-5001"),
        ("PED", "PED-5001"),
        ("", "PED-5001"),
        ("#", "PED-5001"),
        ("1870005002", "5002"),
    ],
)
def test_that_other_numbers_do_not(written: str, known_as: str) -> None:
    assert not names_order(written, known_as)


def test_that_any_of_the_names_may_match() -> None:
    assert names_order("#5002", "1870005002", "5002")


def test_that_an_empty_text_has_no_number() -> None:
    assert parse_order_number(" -#- ") is None
