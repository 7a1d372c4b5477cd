"""The demo stand-in's new orders, read again from the conversation at every request."""

from __future__ import annotations

import pytest

from atende.devtools.fake_llm import demo_responder
from atende.devtools.fake_llm.orders import ASK_PRODUCT, items_of
from tests.devtools.test_fake_llm_demo import calls_of, request, text_of

CAFE = {"sku": "CAF-002", "name": "Café Moído Tradicional 500 g", "price_cents": 2290}


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("quero comprar 2 CAM-001", [(2, "CAM-001", "")]),
        ("2x CAM-001 e 1 CAF-002", [(2, "CAM-001", ""), (1, "CAF-002", "")]),
        ("CAN-002", [(None, "CAN-002", "")]),
        ("quero pedir 3 pacotes do café moído", [(3, None, "cafe moido")]),
        (
            "oi, quero 2 camisetas e uma caneca. cpf [CPF_1]",
            [(2, None, "camiseta"), (1, None, "caneca")],
        ),
        ("agora queria duas canecas termicas", [(2, None, "caneca termica")]),
        ("quero fazer um pedido", []),
    ],
)
def test_that_the_products_of_a_message_are_read(
    text: str, items: list[tuple[int | None, str | None, str]]
) -> None:
    assert [(i.quantity, i.sku, i.name) for i in items_of(text)] == items


def test_that_a_code_then_a_quantity_then_the_cpf_make_an_order() -> None:
    asked = text_of(demo_responder(request("quero fazer um pedido")))
    looked_up = calls_of(demo_responder(request("quero fazer um pedido", asked, "CAF-002")))
    found = {"products": [{**CAFE, "available": True, "stock": 50}]}
    how_many = text_of(
        demo_responder(
            request(
                "quero fazer um pedido",
                asked,
                "CAF-002",
                calls=(("stock_and_price", {"sku": "CAF-002"}, found),),
            )
        )
    )
    history = ("quero fazer um pedido", asked, "CAF-002", how_many)
    cpf = text_of(demo_responder(request(*history, "3")))
    identified = ("identify_customer", {"document": "[CPF_1]"}, {"status": "verified"})
    summary = calls_of(demo_responder(request(*history, "3", cpf, "[CPF_1]", calls=(identified,))))

    assert asked == ASK_PRODUCT
    assert looked_up == [("stock_and_price", {"sku": "CAF-002"})]
    assert how_many == "Quantas unidades de *Café Moído Tradicional 500 g* (CAF-002) você quer?"
    assert "*CPF ou CNPJ*" in cpf
    assert summary == [("prepare_order", {"items": [{"sku": "CAF-002", "quantity": 3}]})]


def test_that_an_order_ends_with_its_confirmation_or_a_cancel() -> None:
    history = ("quero comprar 2 CAM-001", "Pronto, pedido registrado! PED-5204.")

    answer = text_of(demo_responder(request(*history, "sim", verified=True)))

    assert answer.startswith("Como posso ajudar?")
