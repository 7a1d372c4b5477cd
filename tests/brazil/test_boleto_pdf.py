from __future__ import annotations

import functools
import re
from datetime import date

import pytest

from atende.brazil.boleto import Boleto
from atende.brazil.boleto_pdf import render_boleto_pdf
from atende.brazil.money import format_brl
from tests.support.pdf import decode_itf, page_content, page_text

BOLETO = Boleto(
    bank_code="001",
    due_date=date(2025, 3, 10),
    amount_cents=123456,
    free_field="0000001234567000000000117",
)
PIX = (
    "00020101021226880014br.gov.bcb.pix2566qrcodes-pix.example.com.br/v2/cobv/"
    "9d36b84fc70b478fb95c12729b90ca255204000053039865406123.455802BR5925LOJA EXEMPLO "
    "COMERCIO DE 6009SAO PAULO62070503***6304ABCD"
)
POINTS_PER_MM = 72 / 25.4


def _render(boleto: Boleto = BOLETO, **overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "beneficiary": "Loja Exemplo Comércio de Roupas Ltda",
        "beneficiary_document": "11222333000181",
        "payer": "Maria da Conceição Silva",
        "payer_document": "529.982.247-25",
        "document_number": "NF-000123",
        "instructions": [
            "Não receber após 30 dias do vencimento.",
            "Multa de 2% após o vencimento.",
        ],
        "pix_copia_e_cola": PIX,
        **overrides,
    }
    return render_boleto_pdf(boleto, **arguments)  # type: ignore[arg-type]  # test overrides


@functools.cache
def _default_pdf() -> bytes:
    return _render()


def test_that_the_boleto_renders_as_a_single_page_pdf() -> None:
    pdf = _default_pdf()

    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 1
    assert b"/MediaBox [ 0 0 595.2756 841.8898 ]" in pdf  # A4


def test_that_the_page_shows_the_linha_digitavel_and_the_boleto_data_in_pt_br() -> None:
    text = page_text(_default_pdf())

    assert text.count("00190.00009 01234.567004 00000.001172 7 10160000123456") == 2
    assert "001" in text
    assert "10/03/2025" in text
    assert "R$ 1.234,56" in text
    assert "NF-000123" in text
    assert "Loja Exemplo Comércio de Roupas Ltda" in text
    assert "CNPJ 11.222.333/0001-81" in text
    assert "Maria da Conceição Silva" in text
    assert "Não receber após 30 dias do vencimento." in text
    assert "Pagável em qualquer banco" in text
    assert "Vencimento" in text


def test_that_the_payer_document_is_masked_and_never_printed_in_full() -> None:
    pdf = _default_pdf()
    text = page_text(pdf)

    assert "CPF ***.982.247-**" in text
    content = page_content(pdf)
    assert "529.982.247-25" not in content
    assert "52998224725" not in content


def test_that_a_payer_cnpj_is_masked_and_labelled_as_a_cnpj() -> None:
    text = page_text(_render(payer="Empresa Pagadora S.A.", payer_document="12.ABC.345/01DE-35"))

    assert "CNPJ 12.ABC.***/****-35" in text


@pytest.mark.parametrize(
    ("cents", "shown"),
    [(5, "R$ 0,05"), (100, "R$ 1,00"), (123456789, "R$ 1.234.567,89")],
)
def test_that_the_amount_is_printed_in_reais(cents: int, shown: str) -> None:
    boleto = Boleto("001", date(2025, 3, 10), cents, BOLETO.free_field)

    text = page_text(_render(boleto))

    assert text.count(shown) == 2  # the receipt's "Valor do documento" and the ficha's "(=) Valor"
    assert boleto.linha_digitavel_formatted in text


def test_that_the_pix_copia_e_cola_is_printed_whole_across_lines() -> None:
    text = page_text(_default_pdf())

    start = next(i for i, line in enumerate(text) if line.startswith(PIX[:20]))
    assert "".join(text[start : start + 3]) == PIX


def test_that_without_pix_the_pix_box_is_left_out() -> None:
    text = page_text(_render(pix_copia_e_cola=None))

    assert "Pague com PIX" not in text


def test_that_the_barcode_encodes_the_44_digits_in_itf_at_the_febraban_bar_width() -> None:
    digits, narrow = decode_itf(_default_pdf())

    assert digits == BOLETO.barcode
    assert narrow == pytest.approx(0.254 * POINTS_PER_MM, abs=0.01)


def test_that_the_same_inputs_render_the_same_bytes() -> None:
    assert _render() == _default_pdf()


def test_that_a_long_name_is_shortened_without_losing_the_document() -> None:
    text = page_text(_render(payer="Maria " * 40))

    assert any(line.endswith("…") for line in text)
    assert "CPF ***.982.247-**" in text


def test_that_an_invalid_beneficiary_document_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid CPF or CNPJ"):
        _render(beneficiary_document="11.222.333/0001-82")


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (0, "R$ 0,00"),
        (5, "R$ 0,05"),
        (100, "R$ 1,00"),
        (123456, "R$ 1.234,56"),
        (100000000, "R$ 1.000.000,00"),
        (9999999999, "R$ 99.999.999,99"),
        (-150, "-R$ 1,50"),
    ],
)
def test_that_format_brl_writes_reais_the_brazilian_way(cents: int, text: str) -> None:
    assert format_brl(cents) == text
