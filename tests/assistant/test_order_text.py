"""Reading new orders as customers write them (``assistant.dialogue.orders``)."""

from __future__ import annotations

import pytest

from atende.assistant.dialogue.choice import choose
from atende.assistant.dialogue.order_flow import _placed_text
from atende.assistant.dialogue.orders import (
    RequestedLine,
    amended_quantities,
    product_option,
    read_quantity,
    requested_lines,
)
from atende.assistant.dialogue.replies import ORDERS_CHARS, order_history_text, orders_text
from atende.assistant.tools.models import OrderView


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("quero pedir 3 cafe moido", [(None, "cafe moido", 3)]),
        ("3 pacotes do café moído", [(None, "cafe moido", 3)]),
        ("café moído, 3 pacotes", [(None, "cafe moido", 3)]),
        ("duas canecas", [(None, "canecas", 2)]),
        ("quero uma caneca", [(None, "caneca", 1)]),
        ("meia dúzia de copos", [(None, "copos", 6)]),
        ("quero 2 camisetas e 1 caneca", [(None, "camisetas", 2), (None, "caneca", 1)]),
        (
            "quero 2 canecas termicas e tambem 3 cafe moido",
            [(None, "canecas termicas", 2), (None, "cafe moido", 3)],
        ),
        ("2 CAM-001 e tb 1 CAF-002", [("CAM-001", None, 2), ("CAF-002", None, 1)]),
        ("CAF-002", [("CAF-002", None, None)]),
        ("2x CAM-001 e 1 CAN-002", [("CAM-001", None, 2), ("CAN-002", None, 1)]),
        # Codes one after the other, with no comma or "e" between them.
        ("CAM-001 CAM-002", [("CAM-001", None, None), ("CAM-002", None, None)]),
        ("quero 2 CAM-001 3 CAM-002", [("CAM-001", None, 2), ("CAM-002", None, 3)]),
        ("CAM-001 x2 CAM-002 x1", [("CAM-001", None, 2), ("CAM-002", None, 1)]),
        ("CAM-001 2 unidades CAM-002", [("CAM-001", None, 2), ("CAM-002", None, None)]),
        ("caneca x3", [(None, "caneca", 3)]),
        # One word after a comma and an article narrows the product, it is not another item.
        ("duas canecas, a termica", [(None, "canecas termica", 2)]),
        (
            "oi td bem? queria duas canecas, a termica e meu cpf eh 52998224725",
            [(None, "canecas termica", 2)],
        ),
        ("2 camisetas, a preta, e 1 caneca", [(None, "camisetas preta", 2), (None, "caneca", 1)]),
        ("quero comprar 2 CAM-001, meu cpf é 529.982.247-25", [("CAM-001", None, 2)]),
        (
            "oi, quero 2 camisetas e uma caneca. cpf 529.982.247-25",
            [(None, "camisetas", 2), (None, "caneca", 1)],
        ),
        ("quero 2", [(None, None, 2)]),
        ("3", [(None, None, 3)]),
        ("tenis 39", [(None, "tenis 39", None)]),
        ("quero fazer um pedido", []),
        ("quero comprar", []),
    ],
)
def test_that_items_are_read_with_their_quantities(
    text: str, lines: list[tuple[str | None, str | None, int | None]]
) -> None:
    assert requested_lines(text) == [RequestedLine(*line) for line in lines]


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("3", 3),
        ("três", 3),
        ("3 unidades", 3),
        ("uma", 1),
        ("só 2", 2),
        ("meia dúzia", 6),
        ("dez", 10),
        ("5000", None),
        ("a preta", None),
    ],
)
def test_that_a_quantity_alone_answers_how_many(text: str, quantity: int | None) -> None:
    assert read_quantity(text) == quantity


OPTIONS = [
    {"sku": "CAM-001", "name": "Camiseta Básica Algodão Branca P"},
    {"sku": "CAM-002", "name": "Camiseta Básica Algodão Preta M"},
    {"sku": "CAM-005", "name": "Camiseta Dry Fit Corrida Cinza G"},
]


@pytest.mark.parametrize(
    ("text", "sku"),
    [
        ("2", "CAM-002"),
        ("o 2", "CAM-002"),
        ("opção 1", "CAM-001"),
        ("a segunda", "CAM-002"),
        ("a última", "CAM-005"),
        ("cam-005", "CAM-005"),
        ("a preta", "CAM-002"),
        ("quero a cinza", "CAM-005"),
        ("camiseta", None),
        ("7", None),
    ],
)
def test_that_a_product_is_chosen_as_customers_say_it(text: str, sku: str | None) -> None:
    chosen = choose([product_option(o) for o in OPTIONS], text).chosen
    assert (chosen.id if chosen else None) == sku


def test_that_a_list_reply_carries_the_choice() -> None:
    options = [product_option(o) for o in OPTIONS]
    chosen = choose(options, "Camiseta Básica", [None, "CAM-001"]).chosen
    assert chosen is not None
    assert chosen.id == "CAM-001"


def test_that_the_order_number_is_written_once() -> None:
    text = _placed_text("Pedido PED-5202 registrado. Total: R$ 68,70.", "PED-5202")
    assert text == "Pedido *PED-5202* registrado. Total: R$ 68,70."
    assert _placed_text("Recebemos seu pedido.", "98765") == (
        "Recebemos seu pedido. Número do pedido: *98765*."
    )


@pytest.mark.parametrize(
    ("text", "amended"),
    [
        ("CAF-002", {"CAF-002": 3}),
        ("3", {"CAF-002": 3}),
        ("na verdade quero 5", {"CAF-002": 5}),
        ("mudei de ideia, quero 4", {"CAF-002": 4}),
        ("5 CAF-002", {"CAF-002": 5}),
        # Anything else is not a correction: the order flow reads it.
        ("uma caneca", None),
        ("CAN-002", None),
        ("oi", None),
    ],
)
def test_that_an_order_is_corrected_while_the_cpf_is_awaited(
    text: str, amended: dict[str, int] | None
) -> None:
    assert amended_quantities({"CAF-002": 3}, requested_lines(text)) == amended


def test_that_a_bare_quantity_corrects_nothing_when_the_order_has_several_products() -> None:
    assert amended_quantities({"CAF-002": 3, "CAN-002": 1}, requested_lines("quero 5")) is None


def _order(number: int) -> OrderView:
    return OrderView(
        id=f"PED-{number}",
        status="delivered",
        total_cents=18935,
        items=["2x Café Especial em Grãos Sul de Minas 250 g", "1x Caneca Térmica Inox 500 ml"],
        carrier="Correios",
        tracking_code=f"BR{number}000BR",
    )


def test_that_a_short_order_history_is_shown_in_full() -> None:
    orders = [_order(5003), _order(5002), _order(5001)]
    assert order_history_text(orders) == orders_text(orders)


def test_that_a_long_order_history_is_the_newest_orders_one_line_each() -> None:
    orders = [_order(6000 - n) for n in range(60)]  # newest first, a customer who orders a lot
    text = order_history_text(orders)
    assert len(text) <= ORDERS_CHARS + 200
    assert text.startswith("Estes são os seus ")
    assert "pedidos mais recentes:" in text
    assert "PED-6000" in text
    assert "PED-5941" not in text  # the oldest are left out, and the customer is told how to ask
    assert text.endswith("me mande o número.")
    assert "Caneca" not in text  # items only in full listings
