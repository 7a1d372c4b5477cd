from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atende.assistant.agent.grounding import Fact, FactKind, check_grounding, facts_in
from atende.assistant.dialogue.replies import (
    DEFAULTS,
    Replies,
    order_text,
    orders_text,
    second_copy_intro,
    titulo_line,
)
from atende.assistant.tools.models import (
    OpenTitulos,
    OrderList,
    OrderSummary,
    OrderView,
    ProductView,
    SecondCopyView,
    StockResult,
    TituloView,
)
from atende.brazil.boleto import Boleto
from atende.brazil.money import format_brl

BOLETO = Boleto(
    bank_code="237",
    due_date=date(2026, 11, 30),
    amount_cents=18485,
    free_field="3381260000000000300000000",
)
TITULOS = OpenTitulos(
    titulos=[
        TituloView(
            id="T1",
            description="Mensalidade novembro",
            amount_cents=18485,
            due_date=date(2026, 11, 30),
            status="open",
            days_overdue=0,
        ),
        TituloView(
            id="T2",
            description="Mensalidade outubro",
            amount_cents=123456,
            due_date=date(2026, 10, 30),
            status="overdue",
            days_overdue=3,
        ),
    ]
)
COPY = SecondCopyView(
    titulo_id="T1",
    amount_cents=18485,
    due_date=date(2026, 11, 30),
    linha_digitavel=BOLETO.linha_digitavel,
    pdf_url="http://127.0.0.1:8000/boletos/T1.pdf",
    pix_copia_e_cola=None,
    reissued=False,
)
ORDERS = OrderList(
    orders=[
        OrderView(
            id="PED-1001",
            status="shipped",
            total_cents=17980,
            items=["2x Camiseta Básica", "1x Boné"],
            carrier="Correios",
            tracking_code="QB112233445BR",
            tracking_url="https://rastreamento.correios.com.br/app/index.php?objetos=QB112233445BR",
        ),
        OrderView(
            id="PED-1002",
            status="shipped",
            total_cents=8990,
            items=["1x Caneca"],
            carrier="Jadlog",
            tracking_code="10012345678901",
        ),
    ]
)
STOCK = StockResult(
    products=[
        ProductView(sku="CAM-001", name="Camiseta", price_cents=8990, available=True, stock=12),
        ProductView(sku="BON-002", name="Boné", price_cents=4990, available=True, stock=0),
    ]
)
SUMMARY = OrderSummary(summary_id="ab12cd", lines=["3x Camiseta: R$ 269,70"], total_cents=26970)


def _dump(*models: Any) -> list[Any]:
    return [model.model_dump(mode="json") for model in models]


def _kinds(facts: list[Fact]) -> list[tuple[str, str]]:
    return [(fact.kind.value, fact.value) for fact in facts]


# --- extraction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Seu boleto é de R$ 1.234,56.", [("money", "123456")]),
        ("Total: R$1234,56", [("money", "123456")]),
        ("*R$ 89,90* cada", [("money", "8990")]),
        ("custa 1.234,56 reais", [("money", "123456")]),
        ("custa R$ 89.90", [("money", "8990")]),
        ("custa R$ 1.234", [("money", "123400")]),
        ("vence em 30/11/2026", [("date", "2026-11-30")]),
        ("vence em 30/11/26", [("date", "2026-11-30")]),
        ("vence dia 30/11", [("date", "--11-30")]),
        ("vence em 30 de novembro de 2026", [("date", "2026-11-30")]),
        ("vence em 1º de Março", [("date", "--03-01")]),
        ("vence em 2026-11-30", [("date", "2026-11-30")]),
        ("Temos 12 unidades", [("quantity", "12")]),
        ("Há 3 em estoque", [("quantity", "3")]),
        ("estoque: 5", [("quantity", "5")]),
        ("7 camisetas disponíveis", [("quantity", "7")]),
        ("Rastreio (Correios): *QB112233445BR*", [("tracking_code", "QB112233445BR")]),
        ("o código de rastreio é jd0012345678x", [("tracking_code", "JD0012345678X")]),
    ],
)
def test_that_facts_are_extracted_and_normalised(
    text: str, expected: list[tuple[str, str]]
) -> None:
    assert _kinds(facts_in(text)) == expected


def test_that_a_fact_keeps_its_text_and_position() -> None:
    text = "Boleto de *R$ 184,85*, vence em 30/11/2026."

    money, due = facts_in(text)

    assert money == Fact(FactKind.money, "R$ 184,85", "18485", 11, 20)
    assert text[due.start : due.end] == due.text == "30/11/2026"


@pytest.mark.parametrize(
    "text", [BOLETO.linha_digitavel, BOLETO.linha_digitavel_formatted, BOLETO.barcode]
)
def test_that_codes_are_read_whole(text: str) -> None:
    [fact] = facts_in(f"Linha: {text}")

    expected = FactKind.barcode if text == BOLETO.barcode else FactKind.linha_digitavel
    assert fact.kind is expected
    assert fact.value == text.replace(".", "").replace(" ", "")


@pytest.mark.parametrize(
    "text",
    [
        "Você tem 2 boletos em aberto e 1 pedido.",
        "1. Mensalidade novembro\n2. Mensalidade outubro",
        "Pedido *PED-1001*, item CAM-001, CEP 01310-100, em 3x sem juros.",
        "Atendemos 24/7, das 08:00 às 18:00; metade (1/2) da equipe.",
        "Fale com a gente pelo (11) 98765-4321 ou pelo CNPJ 11.222.333/0001-81.",
        "O boleto venceu há 3 dias. Posso ajudar com mais alguma coisa?",
        "Veja em https://loja.example.com/p/2026/11/30?preco=1234",
        "O rastreio ainda não está disponível.",
    ],
)
def test_that_prose_has_no_facts(text: str) -> None:
    assert facts_in(text) == []


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_that_the_default_templates_state_no_facts(key: str) -> None:
    text = Replies("Loja Exemplo", {}).text(key, name=", Ana", hours="seg 08:00-18:00")

    assert facts_in(text) == []


# --- grounded replies -------------------------------------------------------------------------


def test_that_the_open_titulos_as_the_engine_writes_them_are_grounded() -> None:
    lines = "\n".join(f"{i}. {titulo_line(t)}" for i, t in enumerate(TITULOS.titulos, 1))
    reply = f"Você tem 2 boletos em aberto:\n{lines}"

    report = check_grounding(reply, _dump(TITULOS))

    assert report.ok, report.ungrounded
    assert len(report.facts) == 4


def test_that_a_second_copy_is_grounded() -> None:
    reply = f"{second_copy_intro(COPY)}\n\n{BOLETO.linha_digitavel_formatted}"

    report = check_grounding(reply, _dump(COPY))

    assert report.ok, report.ungrounded
    assert {fact.kind for fact in report.facts} == {
        FactKind.money,
        FactKind.date,
        FactKind.linha_digitavel,
    }


def test_that_the_barcode_of_the_same_boleto_is_grounded_too() -> None:
    assert check_grounding(f"Código de barras: {BOLETO.barcode}", _dump(COPY)).ok


def test_that_orders_and_tracking_are_grounded() -> None:
    reply = orders_text(ORDERS.orders) + "\nO rastreio da Jadlog é 10012345678901."

    report = check_grounding(reply, _dump(ORDERS))

    assert report.ok, report.ungrounded
    assert ("tracking_code", "10012345678901") in _kinds(report.facts)
    assert check_grounding(order_text(ORDERS.orders[0]), _dump(ORDERS)).ok


def test_that_stock_prices_and_summaries_are_grounded() -> None:
    reply = (
        f"A Camiseta (CAM-001) custa {format_brl(8990)} e temos 12 unidades em estoque; "
        "o Boné está com estoque: 0.\n"
        f"Resumo: 3x Camiseta: {format_brl(26970)}. Confirma?"
    )

    assert check_grounding(reply, [STOCK, SUMMARY]).ok


def test_that_written_dates_match_the_iso_dates_of_the_tools() -> None:
    reply = "Vence em 30 de novembro de 2026 (30/11), e o outro venceu em 30/10/26."

    assert check_grounding(reply, _dump(TITULOS)).ok


def test_that_the_total_of_a_list_is_grounded() -> None:
    reply = f"No total, {format_brl(18485 + 123456)} em aberto."

    assert check_grounding(reply, _dump(TITULOS)).ok


def test_that_a_partial_sum_is_not_a_total() -> None:
    three = OpenTitulos(
        titulos=[
            t.model_copy(update={"id": f"T{n}", "amount_cents": cents})
            for n, (t, cents) in enumerate(
                zip([TITULOS.titulos[0]] * 3, [1000, 2000, 4000], strict=True)
            )
        ]
    )

    assert check_grounding(f"Total {format_brl(7000)}", _dump(three)).ok
    assert not check_grounding(f"Total {format_brl(3000)}", _dump(three)).ok


def test_that_what_the_customer_said_grounds_the_reply() -> None:
    reply = "Certo, separei 3 unidades da Camiseta."

    assert not check_grounding(reply, [STOCK]).ok
    assert check_grounding(reply, [STOCK], user_text="quero 3 camisetas").ok
    assert check_grounding(reply, [STOCK], user_text="manda três").ok
    assert check_grounding(
        "Anotado: R$ 50,00 até 05/12.", [], user_text="pago 50 reais dia 05/12"
    ).ok


def test_that_replies_without_facts_pass_without_tools() -> None:
    report = check_grounding("Olá! Você tem 2 pedidos. Posso ajudar em algo mais?", [])

    assert report.ok
    assert report.facts == []


# --- hallucinations ---------------------------------------------------------------------------


def _ungrounded(reply: str, *results: Any, user_text: str = "") -> list[tuple[str, str]]:
    return _kinds(check_grounding(reply, _dump(*results), user_text=user_text).ungrounded)


def test_that_an_amount_one_cent_off_is_caught() -> None:
    assert _ungrounded("Seu boleto é de R$ 184,86.", COPY) == [("money", "18486")]


def test_that_a_wrong_due_date_is_caught() -> None:
    assert _ungrounded("Vence em 01/12/2026.", COPY) == [("date", "2026-12-01")]
    assert _ungrounded("Vence em 29/11.", COPY) == [("date", "--11-29")]
    assert _ungrounded("Vence em 30/11/2025.", COPY) == [("date", "2025-11-30")]


@given(position=st.integers(0, 46), delta=st.integers(1, 9))
def test_that_one_changed_digit_in_the_linha_is_caught(position: int, delta: int) -> None:
    digits = list(BOLETO.linha_digitavel)
    digits[position] = str((int(digits[position]) + delta) % 10)
    wrong = "".join(digits)

    report = check_grounding(f"Linha digitável:\n{wrong}", _dump(COPY))

    assert _kinds(report.ungrounded) == [("linha_digitavel", wrong)]


def test_that_a_linha_missing_a_digit_is_caught() -> None:
    short = BOLETO.linha_digitavel_formatted[:-1]

    [fact] = check_grounding(short, _dump(COPY)).ungrounded

    assert fact.kind is FactKind.linha_digitavel


def test_that_an_invented_tracking_code_is_caught() -> None:
    assert _ungrounded("Rastreio: *QB112233446BR*", ORDERS) == [("tracking_code", "QB112233446BR")]
    assert _ungrounded("O rastreio é JD99887766", ORDERS) == [("tracking_code", "JD99887766")]


def test_that_an_invented_stock_count_is_caught() -> None:
    assert _ungrounded("Temos 15 unidades da Camiseta.", STOCK) == [("quantity", "15")]
    assert _ungrounded("estoque: 4", STOCK) == [("quantity", "4")]


def test_that_facts_from_another_turn_do_not_count() -> None:
    report = check_grounding(second_copy_intro(COPY), _dump(STOCK))

    assert not report.ok
    assert {fact.kind for fact in report.ungrounded} == {FactKind.money, FactKind.date}
