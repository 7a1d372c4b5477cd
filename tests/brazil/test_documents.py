from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.br import cpf as stdnum_cpf

from atende.brazil.documents import (
    DocumentCheck,
    DocumentKind,
    check_document,
    format_cnpj,
    format_cpf,
    format_document,
    mask_document,
    normalize_cep,
    normalize_cnpj,
    normalize_cpf,
)

CPF = "529.982.247-25"
CNPJ = "11.222.333/0001-81"
# The Receita Federal's own example of the alphanumeric CNPJ (in force from July 2026).
ALPHANUMERIC_CNPJ = "12.ABC.345/01DE-35"
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _cpf_check_digits(nine: str) -> str:
    """An oracle written from the rule, independent of stdnum, for the property tests."""
    digits = [int(d) for d in nine]
    for first_weight in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(first_weight, 1, -1), strict=True))
        rest = total % 11
        digits.append(0 if rest < 2 else 11 - rest)
    return "".join(map(str, digits[9:]))


def _cnpj_check_digits(twelve: str) -> str:
    """Oracle for the CNPJ rule: each character counts as its ASCII code minus 48."""
    values = [ord(c) - 48 for c in twelve]
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        rest = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
        values.append(0 if rest < 2 else 11 - rest)
    return f"{values[12]}{values[13]}"


def test_that_the_oracles_agree_with_the_known_valid_documents() -> None:
    # Guards the property tests below: they must generate real documents.
    assert _cpf_check_digits("529982247") == "25"
    assert _cnpj_check_digits("112223330001") == "81"
    assert _cnpj_check_digits("12ABC34501DE") == "35"


@pytest.mark.parametrize("text", [CPF, "52998224725", " 529 982 247 25 ", "529.982.247/25"])
def test_that_a_cpf_formatted_or_bare_is_valid_and_normalised_to_digits(text: str) -> None:
    check = check_document(text)

    assert check == DocumentCheck(kind=DocumentKind.cpf, value="52998224725", valid=True)


@pytest.mark.parametrize("text", [CNPJ, "11222333000181", "11.222.333/0001 81"])
def test_that_a_numeric_cnpj_formatted_or_bare_is_valid(text: str) -> None:
    check = check_document(text)

    assert check == DocumentCheck(kind=DocumentKind.cnpj, value="11222333000181", valid=True)


@pytest.mark.parametrize(
    "text", [ALPHANUMERIC_CNPJ, "12ABC34501DE35", "12abc34501de35", "12.abc.345/01de-35"]
)
def test_that_an_alphanumeric_cnpj_is_uppercased_and_valid(text: str) -> None:
    check = check_document(text)

    assert check == DocumentCheck(kind=DocumentKind.cnpj, value="12ABC34501DE35", valid=True)


@pytest.mark.parametrize(
    ("text", "reason", "kind", "message"),
    [
        ("", "empty", None, "Informe o número do CPF ou do CNPJ."),
        ("  .-/ ", "empty", None, "Informe o número do CPF ou do CNPJ."),
        ("1234", "length", None, "O documento deve ter 11 dígitos (CPF) ou 14 caracteres (CNPJ)."),
        ("529.982.247-2", "length", None, None),
        ("52998224A25", "characters", DocumentKind.cpf, "O CPF deve ter apenas números."),
        ("529*982*247*25", "characters", None, None),
        ("12ABC34501DEAB", "characters", DocumentKind.cnpj, None),
        ("12ÀBC34501DE35", "characters", None, None),
        (
            "111.111.111-11",
            "repeated_digits",
            DocumentKind.cpf,
            "O CPF não pode ter todos os dígitos iguais.",
        ),
        ("000.000.000-00", "repeated_digits", DocumentKind.cpf, None),
        ("00.000.000/0000-00", "repeated_digits", DocumentKind.cnpj, None),
        (
            "529.982.247-24",
            "check_digits",
            DocumentKind.cpf,
            "Os dígitos verificadores do CPF não conferem.",
        ),
        (
            "11.222.333/0001-82",
            "check_digits",
            DocumentKind.cnpj,
            "Os dígitos verificadores do CNPJ não conferem.",
        ),
        ("12.ABC.345/01DE-36", "check_digits", DocumentKind.cnpj, None),
    ],
)
def test_that_an_invalid_document_says_which_check_failed(
    text: str, reason: str, kind: DocumentKind | None, message: str | None
) -> None:
    check = check_document(text)

    assert not check.valid
    assert check.reason == reason
    assert check.kind is kind
    assert check.message
    if message is not None:
        assert check.message == message


def test_that_an_invalid_document_keeps_its_value_only_when_its_shape_was_right() -> None:
    assert check_document("529.982.247-24").value == "52998224724"
    assert check_document("111.111.111-11").value == "11111111111"
    assert check_document("52998224A25").value is None
    assert check_document("1234").value is None


def test_that_repeated_digits_are_rejected_even_though_their_check_digits_match() -> None:
    # Why the rule is ours: by the check-digit arithmetic alone, 111.111.111-11 is a CPF.
    assert stdnum_cpf.is_valid("11111111111")

    assert check_document("111.111.111-11").reason == "repeated_digits"


def test_that_the_cpf_check_digits_cannot_catch_every_single_digit_change() -> None:
    # The CPF rule turns remainders 0 and 1 both into check digit 0, so when the first check
    # digit is 0 a change of the 1st or 6th digit can leave both check digits unchanged:
    # 100047514 → S1 = 10·1 + 6·4 + 5·7 + 4·5 + 3·1 + 2·4 = 100, 100 mod 11 = 1 → 0;
    #             S2 = 11·1 + 7·4 + 6·7 + 5·5 + 4·1 + 3·4 + 2·0 = 122, 122 mod 11 = 1 → 0.
    # 200047514 → S1 = 110, 110 mod 11 = 0 → 0; S2 = 133, 133 mod 11 = 1 → 0.
    assert check_document("100.047.514-00").valid
    assert check_document("200.047.514-00").valid


@settings(max_examples=200, database=None)
@given(
    nine=st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda s: len(set(s)) > 1),
    position=st.integers(min_value=0, max_value=10),
    shift=st.integers(min_value=1, max_value=9),
)
def test_that_generated_cpfs_are_valid_and_a_changed_digit_is_caught_outside_the_blind_spot(
    nine: str, position: int, shift: int
) -> None:
    cpf = nine + _cpf_check_digits(nine)
    changed_digit = str((int(cpf[position]) + shift) % 10)
    changed = cpf[:position] + changed_digit + cpf[position + 1 :]

    assert check_document(cpf) == DocumentCheck(kind=DocumentKind.cpf, value=cpf, valid=True)
    result = check_document(changed)
    if result.valid:
        # The only escape is the one pinned in the test above: first check digit 0 and a change
        # in the 1st or 6th digit. A changed check digit is always caught.
        assert cpf[9] == "0"
        assert position in (0, 5)
        assert _cpf_check_digits(changed[:9]) == changed[9:]
    else:
        assert result.reason in ("check_digits", "repeated_digits")


@settings(max_examples=100, database=None)
@given(
    twelve=st.text(alphabet=ALPHANUMERIC, min_size=12, max_size=12),
    wrong=st.integers(min_value=1, max_value=99),
)
def test_that_generated_alphanumeric_cnpjs_are_valid_and_other_check_digits_are_not(
    twelve: str, wrong: int
) -> None:
    digits = _cnpj_check_digits(twelve)
    other = f"{(int(digits) + wrong) % 100:02d}"

    valid = check_document((twelve + digits).lower())
    invalid = check_document(twelve + other)

    if len(set(twelve + digits)) > 1:
        assert valid == DocumentCheck(DocumentKind.cnpj, twelve + digits, valid=True)
    if len(set(twelve + other)) > 1:
        assert invalid.reason == "check_digits"


def test_that_normalize_returns_the_document_only_when_it_is_valid_and_of_that_kind() -> None:
    assert normalize_cpf(CPF) == "52998224725"
    assert normalize_cpf("529.982.247-24") is None
    assert normalize_cpf(CNPJ) is None
    assert normalize_cnpj(CNPJ) == "11222333000181"
    assert normalize_cnpj("12abc34501de35") == "12ABC34501DE35"
    assert normalize_cnpj(CPF) is None
    assert normalize_cnpj("00.000.000/0000-00") is None


def test_that_documents_are_formatted_the_standard_way() -> None:
    assert format_cpf("52998224725") == CPF
    assert format_cnpj("11222333000181") == CNPJ
    assert format_cnpj("12abc34501de35") == ALPHANUMERIC_CNPJ
    assert format_document("52998224725") == CPF
    assert format_document("12ABC34501DE35") == ALPHANUMERIC_CNPJ


@pytest.mark.parametrize(
    ("formatter", "value"),
    [
        (format_cpf, "529.982.247-24"),
        (format_cpf, CNPJ),
        (format_cnpj, "11.222.333/0001-82"),
        (format_document, "1234"),
    ],
)
def test_that_formatting_an_invalid_document_raises(
    formatter: Callable[[str], str], value: str
) -> None:
    with pytest.raises(ValueError, match="not a valid"):
        formatter(value)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (CPF, "***.982.247-**"),
        ("52998224725", "***.982.247-**"),
        ("529.982.247-24", "***.982.247-**"),
        (CNPJ, "11.222.***/****-81"),
        ("11222333000181", "11.222.***/****-81"),
        (ALPHANUMERIC_CNPJ, "12.ABC.***/****-35"),
        ("12abc34501de35", "12.ABC.***/****-35"),
        ("1234-5", "****-*"),
        ("", ""),
    ],
)
def test_that_a_document_is_masked_keeping_only_its_middle_and_never_validated(
    value: str, masked: str
) -> None:
    assert mask_document(value) == masked


@pytest.mark.parametrize("text", ["01310-100", "01310100", " 01310-100 ", "01.310-100"])
def test_that_a_cep_is_normalised_to_eight_digits(text: str) -> None:
    assert normalize_cep(text) == "01310100"


# The last one is "01310100" in full-width digits, which str.isdigit() would accept.
@pytest.mark.parametrize(
    "text",
    [
        "00000-000",
        "00000000",
        "1310-100",
        "013101000",
        "01310-10a",
        "",
        "\uff10\uff11\uff13\uff11\uff10\uff11\uff10\uff10",
    ],
)
def test_that_a_cep_with_the_wrong_shape_or_all_zeros_is_rejected(text: str) -> None:
    assert normalize_cep(text) is None
