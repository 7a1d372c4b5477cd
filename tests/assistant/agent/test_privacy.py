from __future__ import annotations

import json
import re
from datetime import date, timedelta

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf

from atende.assistant.agent.privacy import PLACEHOLDER, Redactor
from atende.brazil.boleto import Boleto
from atende.brazil.money import format_brl
from atende.connectors.demo.pix import pix_copia_e_cola

CPF = "529.982.247-25"
CNPJ = "11.222.333/0001-81"
ALPHANUMERIC_CNPJ = "12.ABC.345/01DE-35"
LINHA = "23793.38128 60000.000004 03000.000004 5 16460000018485"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# --- what is redacted -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        (CPF, "[CPF_1]"),
        ("52998224725", "[CPF_1]"),
        ("529982247-25", "[CPF_1]"),
        ("529 982 247 25", "[CPF_1]"),
        (CNPJ, "[CNPJ_1]"),
        ("11222333000181", "[CNPJ_1]"),
        (ALPHANUMERIC_CNPJ, "[CNPJ_1]"),
        ("12ABC34501DE35", "[CNPJ_1]"),
        ("12abc34501de35", "[CNPJ_1]"),
        ("+55 11 98765-4321", "[TELEFONE_1]"),
        ("+55 (11) 98765-4321", "[TELEFONE_1]"),
        ("(11) 98765-4321", "[TELEFONE_1]"),
        ("11 98765-4321", "[TELEFONE_1]"),
        ("11987654321", "[TELEFONE_1]"),
        ("5511987654321", "[TELEFONE_1]"),
        ("+5511987654321", "[TELEFONE_1]"),
        ("55 11 98765 4321", "[TELEFONE_1]"),
        ("(011) 98765-4321", "[TELEFONE_1]"),
        ("(11) 3456-7890", "[TELEFONE_1]"),
        ("98765-4321", "[TELEFONE_1]"),
        ("maria.silva@exemplo.com.br", "[EMAIL_1]"),
        ("João.Souza+loja@Empresa.COM", "[EMAIL_1]"),
    ],
)
def test_that_each_writing_of_personal_data_becomes_a_placeholder(
    value: str, placeholder: str
) -> None:
    redactor = Redactor()
    text = f"o cliente informou {value} na conversa."

    redacted = redactor.redact(text)

    assert redacted == f"o cliente informou {placeholder} na conversa."
    assert redactor.restore(redacted) == text


def test_that_the_same_value_gets_the_same_placeholder_whatever_its_writing() -> None:
    redactor = Redactor()

    redacted = redactor.redact(
        f"cpf {CPF} ou 52998224725; zap (11) 98765-4321, +55 11 98765-4321; "
        "email Ana@Exemplo.com e ana@exemplo.com; outro cpf 111.444.777-35"
    )

    assert redacted == (
        "cpf [CPF_1] ou [CPF_1]; zap [TELEFONE_1], [TELEFONE_1]; "
        "email [EMAIL_1] e [EMAIL_1]; outro cpf [CPF_2]"
    )
    # The first writing seen is the one put back.
    assert redactor.restore("[CPF_1] [TELEFONE_1] [EMAIL_1]") == (
        f"{CPF} (11) 98765-4321 Ana@Exemplo.com"
    )


@pytest.mark.parametrize(
    "text",
    [
        "cpf 529.982.247-24",  # wrong check digit: still a person's number
        "cpf 52998224724",
        "CPF:111.111.111-11",
        "CPF52998224724",
        "cnpj 11.222.333/0001-82",
        "cnpj 12.ABC.345/01DE-36",
    ],
)
def test_that_documents_with_invalid_check_digits_are_redacted_all_the_same(text: str) -> None:
    redacted = Redactor().redact(text)

    assert not re.search(r"\d{3}", redacted), redacted


def test_that_documents_glued_to_words_are_redacted() -> None:
    redacted = Redactor().redact("cpf52998224725 cpf_52998224725 tel11987654321")

    assert redacted == "cpf[CPF_1] cpf_[CPF_1] tel[TELEFONE_1]"


def test_that_a_phone_right_after_a_document_is_still_found() -> None:
    redacted = Redactor().redact(f"{CPF} 11 98765-4321")

    assert redacted == "[CPF_1] [TELEFONE_1]"


# --- what is not ------------------------------------------------------------------------------


def _boleto(amount_cents: int = 18485, due: date = date(2026, 11, 30)) -> Boleto:
    return Boleto(bank_code="237", due_date=due, amount_cents=amount_cents, free_field="3" * 25)


@pytest.mark.parametrize(
    "text",
    [
        "boleto de R$ 1.234,56 com vencimento em 30/11/2026",
        "R$1234,56 ou R$ 89,90 ou 1.234,56 reais",
        "pedido PED-1001, PED-2026-0001 e o item CAM-001",
        "entregamos no CEP 01310-100 (01310100) em 2026-11-30T10:00:00-03:00",
        f"linha digitável: {LINHA}",
        "linha digitável: 23793381286000000000403000000004516460000018485",
        "código de barras 23795164600000184853381260000000000300000000",
        "conta de luz 83620000000-0 67830174000-1 40404040404-0 12345678901-2",
        "rastreio BR123456789BR, AA123456789BR e QB112233445BR",
        "rastreio 10012345678901 (Jadlog)",
        "temos 12 unidades; 3 em estoque; 1 boleto e 2 pedidos",
    ],
)
def test_that_money_dates_codes_and_ids_survive(text: str) -> None:
    assert Redactor().redact(text) == text


def test_that_a_pix_copia_e_cola_survives_even_with_a_document_as_key() -> None:
    pix = pix_copia_e_cola(
        key=CNPJ.replace(".", "").replace("/", "").replace("-", ""),
        amount_cents=18485,
        merchant_name="Loja Exemplo",
        merchant_city="São Paulo",
        txid="TIT1001",
    )

    assert Redactor().redact(f"PIX copia e cola: {pix}") == f"PIX copia e cola: {pix}"


def test_that_redacting_twice_changes_nothing_more() -> None:
    redactor = Redactor()
    once = redactor.redact(f"cpf {CPF}, cnpj {CNPJ}, tel 11987654321, email a@b.com.br")

    assert redactor.redact(once) == once


# --- JSON -------------------------------------------------------------------------------------


def test_that_tool_results_are_redacted_recursively() -> None:
    redactor = Redactor()
    result = {
        "customer": {"document": "52998224725", "phone": 11987654321, "emails": ["a@b.com"]},
        "titulos": [{"id": "T1", "amount_cents": 18485, "due_date": "2026-11-30"}],
        "linha_digitavel": _boleto().linha_digitavel,
        "tracking_code": "10012345678",
        "verified": True,
        "note": None,
    }

    redacted = redactor.redact_json(result)

    assert redacted == {
        "customer": {"document": "[CPF_1]", "phone": "[TELEFONE_1]", "emails": ["[EMAIL_1]"]},
        "titulos": [{"id": "T1", "amount_cents": 18485, "due_date": "2026-11-30"}],
        "linha_digitavel": _boleto().linha_digitavel,
        # An 11-digit tracking number is not a CPF in a field that says what it is.
        "tracking_code": "10012345678",
        "verified": True,
        "note": None,
    }
    assert "52998224725" not in json.dumps(redacted)


def test_that_an_email_in_a_verbatim_field_is_still_redacted() -> None:
    redacted = Redactor().redact_json({"tracking_code": "ana@exemplo.com"})

    assert redacted == {"tracking_code": "[EMAIL_1]"}


def test_that_tool_call_arguments_are_restored() -> None:
    redactor = Redactor()
    redactor.redact(f"meu cpf é {CPF}")

    arguments = redactor.restore_json({"document": "[CPF_1]", "items": [{"sku": "CAM-001"}]})

    assert arguments == {"document": CPF, "items": [{"sku": "CAM-001"}]}


# --- unknown placeholders and state -----------------------------------------------------------


def test_that_unknown_placeholders_are_kept_and_reported() -> None:
    redactor = Redactor()
    redactor.redact(f"cpf {CPF}")

    restored = redactor.restore("O CPF [CPF_1] e o telefone [TELEFONE_3], ou [CPF_2] e [CPF_2].")

    assert restored == f"O CPF {CPF} e o telefone [TELEFONE_3], ou [CPF_2] e [CPF_2]."
    assert redactor.unresolved == ("[TELEFONE_3]", "[CPF_2]")


def test_that_restore_json_reports_unknown_placeholders_too() -> None:
    redactor = Redactor()

    assert redactor.restore_json({"document": "[CNPJ_1]"}) == {"document": "[CNPJ_1]"}
    assert redactor.unresolved == ("[CNPJ_1]",)


def test_that_placeholders_stay_stable_across_turns() -> None:
    first = Redactor()
    first.redact(f"cpf {CPF} e email ana@exemplo.com")
    state = json.loads(json.dumps(first.state()))

    second = Redactor.from_state(state)
    redacted = second.redact("agora 52998224725, o cnpj 11222333000181 e outro@exemplo.com")

    assert redacted == "agora [CPF_1], o cnpj [CNPJ_1] e [EMAIL_2]"
    assert second.restore("[CPF_1] [EMAIL_1]") == f"{CPF} ana@exemplo.com"
    assert second.state() == {
        "[CPF_1]": CPF,
        "[EMAIL_1]": "ana@exemplo.com",
        "[CNPJ_1]": "11222333000181",
        "[EMAIL_2]": "outro@exemplo.com",
    }


@pytest.mark.parametrize("state", [{"CPF_1": CPF}, {"[RG_1]": "123"}, {"[CPF_0]": CPF}])
def test_that_a_malformed_state_is_refused(state: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="placeholder"):
        Redactor.from_state(state)


# --- properties -------------------------------------------------------------------------------


def _cpf_check_digits(nine: str) -> str:
    digits = [int(d) for d in nine]
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=False))
        rest = total % 11
        digits.append(0 if rest < 2 else 11 - rest)
    return "".join(map(str, digits[-2:]))


def test_that_the_cpf_helper_agrees_with_stdnum() -> None:
    assert _cpf_check_digits("529982247") == "25"


_cpfs = (
    st.text("0123456789", min_size=9, max_size=9)
    .map(lambda nine: nine + _cpf_check_digits(nine))
    .filter(stdnum_cpf.is_valid)
)
_cnpjs = st.one_of(
    st.text("0123456789", min_size=12, max_size=12),
    st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=12, max_size=12),
).map(lambda twelve: twelve + stdnum_cnpj.calc_check_digits(twelve))
# All-equal digits pass stdnum but are no one's document (atende.brazil.documents rejects them).
_cnpjs = _cnpjs.filter(lambda cnpj: len(set(cnpj)) > 1)
_AREA_CODES = ["11", "21", "31", "41", "47", "51", "61", "71", "81", "85", "91", "92"]
_mobiles = st.builds(
    lambda area, rest: area + "9" + rest,
    st.sampled_from(_AREA_CODES),
    st.text("0123456789", min_size=8, max_size=8).filter(lambda r: r[0] in "6789"),
).filter(lambda n: phonenumbers.is_valid_number(phonenumbers.parse(n, "BR")))
_landlines = st.builds(
    lambda area, rest: area + rest,
    st.sampled_from(_AREA_CODES),
    st.text("0123456789", min_size=8, max_size=8).filter(lambda r: r[0] in "2345"),
).filter(lambda n: phonenumbers.is_valid_number(phonenumbers.parse(n, "BR")))


def _cpf_writings(cpf: str) -> list[str]:
    return [cpf, stdnum_cpf.format(cpf), f"{cpf[:9]}-{cpf[9:]}", " ".join(re.findall("...?", cpf))]


def _cnpj_writings(cnpj: str) -> list[str]:
    return [cnpj, stdnum_cnpj.format(cnpj), cnpj.lower()]


def _phone_writings(number: str) -> list[str]:
    area, local = number[:2], number[2:]
    split = f"{local[:-4]}-{local[-4:]}"
    return [
        number,
        f"55{number}",
        f"+55{number}",
        f"+55 {area} {split}",
        f"+55 ({area}) {split}",
        f"({area}) {split}",
        f"{area} {split}",
        f"0{area} {split}",
        f"55 {area} {local[:-4]} {local[-4:]}",
    ]


@st.composite
def _personal_data(draw: st.DrawFn) -> tuple[str, str]:
    """(as written, the digits or address that must not survive)."""
    kind = draw(st.sampled_from(["cpf", "cnpj", "mobile", "landline", "email"]))
    if kind == "cpf":
        cpf = draw(_cpfs)
        return draw(st.sampled_from(_cpf_writings(cpf))), cpf
    if kind == "cnpj":
        cnpj = draw(_cnpjs)
        return draw(st.sampled_from(_cnpj_writings(cnpj))), cnpj
    if kind == "email":
        user = draw(st.from_regex(r"[a-z][a-z0-9._+-]{0,15}", fullmatch=True))
        host = draw(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True))
        tld = draw(st.sampled_from(["com", "com.br", "org", "net.br"]))
        address = f"{user}@{host}.{tld}"
        return address, address
    number = draw(_mobiles if kind == "mobile" else _landlines)
    return draw(st.sampled_from(_phone_writings(number))), number


_WORDS = st.sampled_from(
    ["oi", "meu", "cpf", "é", "cnpj", "telefone", "whats", "e-mail", "obrigado", "(", ")", ":"]
)
_SEPARATORS = st.sampled_from([" ", ", ", " e ", "\n", "; ", " / ", " - "])


def _join(fragments: list[str], separators: list[str]) -> str:
    pieces = [fragments[0]]
    for fragment, separator in zip(fragments[1:], separators, strict=False):
        pieces.extend([separator, fragment])
    return "".join(pieces)


@st.composite
def _boletos(draw: st.DrawFn) -> Boleto:
    return Boleto(
        bank_code=draw(st.text("0123456789", min_size=3, max_size=3)),
        due_date=date(2025, 3, 1) + timedelta(days=draw(st.integers(0, 8000))),
        amount_cents=draw(st.integers(0, 10**10 - 1)),
        free_field=draw(st.text("0123456789", min_size=25, max_size=25)),
    )


_money = st.integers(0, 10**9).map(format_brl)


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(_personal_data(), min_size=1, max_size=4),
    words=st.lists(_WORDS, min_size=4, max_size=8),
    separators=st.lists(_SEPARATORS, min_size=12, max_size=12),
)
def test_that_no_valid_document_phone_or_email_survives(
    items: list[tuple[str, str]], words: list[str], separators: list[str]
) -> None:
    fragments = [w for pair in zip(words, [i[0] for i in items], strict=False) for w in pair]
    text = _join(fragments + words[len(items) :], separators)

    redacted = Redactor().redact(text)

    for written, secret in items:
        assert written not in redacted, redacted
        if "@" in secret:
            assert "@" not in redacted, redacted
        else:
            # Fillers have no digits: any digit outside a placeholder is a leak.
            assert _digits(PLACEHOLDER.sub("", redacted)) == "", redacted
            assert secret.upper() not in redacted.upper(), redacted


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(_personal_data(), min_size=0, max_size=4, unique_by=lambda item: item[1]),
    boleto=_boletos(),
    amount=_money,
    words=st.lists(_WORDS, min_size=4, max_size=8),
    separators=st.lists(_SEPARATORS, min_size=16, max_size=16),
)
def test_that_redact_then_restore_gives_back_the_original(
    items: list[tuple[str, str]],
    boleto: Boleto,
    amount: str,
    words: list[str],
    separators: list[str],
) -> None:
    values = [written for written, _ in items]
    fragments = [*words[:2], *values, boleto.linha_digitavel_formatted, amount, *words[2:]]
    text = _join(fragments, separators)
    redactor = Redactor()

    redacted = redactor.redact(text)

    assert redactor.restore(redacted) == text
    assert redactor.unresolved == ()
    assert len(set(PLACEHOLDER.findall(redacted))) == len(items)


@settings(max_examples=200, deadline=None)
@given(
    boleto=_boletos(),
    amounts=st.lists(_money, min_size=1, max_size=3),
    items=st.lists(_personal_data(), max_size=3),
    bare=st.booleans(),
    separators=st.lists(_SEPARATORS, min_size=10, max_size=10),
)
def test_that_linhas_barcodes_and_money_survive_unchanged(
    boleto: Boleto,
    amounts: list[str],
    items: list[tuple[str, str]],
    bare: bool,
    separators: list[str],
) -> None:
    linha = boleto.linha_digitavel if bare else boleto.linha_digitavel_formatted
    codes = [linha, boleto.barcode, *amounts]
    text = _join([*codes, *(written for written, _ in items)], separators)

    redacted = Redactor().redact(text)

    for code in codes:
        assert code in redacted, (code, redacted)


@given(text=st.text(max_size=200))
def test_that_any_text_round_trips(text: str) -> None:
    assume(not PLACEHOLDER.search(text))
    redactor = Redactor()

    assert redactor.restore(redactor.redact(text)) == text
