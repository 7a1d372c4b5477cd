from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atende.kit.masking import mask_text, mask_value

CPF = "529.982.247-25"
CPF_DIGITS = "52998224725"
BSUID = "BR.1502576394655843"


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _assert_hidden(original: str, masked: str) -> None:
    """The value is gone: neither as written, nor as bare digits, nor as a run of 3+ digits."""
    assert original not in masked
    digits = _digits(original)
    if digits:
        assert digits not in _digits(masked)
    assert not re.search(r"\d{3}", masked), masked


def _cpf_check_digits(nine: list[int]) -> list[int]:
    digits = list(nine)
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=False))
        rest = total % 11
        digits.append(0 if rest < 2 else 11 - rest)
    return digits


def test_that_the_cpf_check_digit_helper_agrees_with_a_known_valid_cpf() -> None:
    # Guards the hypothesis test below: it must generate real CPFs.
    assert "".join(map(str, _cpf_check_digits([5, 2, 9, 9, 8, 2, 2, 4, 7]))) == CPF_DIGITS


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("529.982.247-25", "cpf"),
        ("52998224725", "cpf"),
        ("11.222.333/0001-81", "cnpj"),
        ("11222333000181", "cnpj"),
        ("12.ABC.345/01DE-35", "cnpj"),
        ("12ABC34501DE35", "cnpj"),
        ("+55 11 98765-4321", None),
        ("+55 (11) 98765-4321", None),
        ("(21) 99876-5432", None),
        ("5511987654321", None),
        ("11987654321", None),
        ("98765-4321", None),
        ("(11) 3456-7890", None),
        ("55 11 98765 4321", None),
        (BSUID, None),
    ],
)
def test_that_documents_and_phones_inside_a_sentence_are_masked(
    value: str, label: str | None
) -> None:
    masked = mask_text(f"o cliente informou {value} na conversa")

    _assert_hidden(value, masked)
    assert masked.startswith("o cliente informou ")
    assert masked.endswith(" na conversa")
    if label is not None:
        assert f"[{label}:" in masked


def test_that_alphanumeric_cnpj_letters_do_not_survive_masking() -> None:
    masked = mask_text("CNPJ 12.ABC.345/01DE-35 cadastrado")

    assert "ABC" not in masked
    assert "01DE" not in masked
    assert masked == "CNPJ [cnpj:…35] cadastrado"


@pytest.mark.parametrize(
    "email", ["maria.souza@example.com", "joao+pedidos@loja.com.br", "ana_b-c@sub.dominio.org"]
)
def test_that_emails_are_masked(email: str) -> None:
    masked = mask_text(f"contato: {email}, obrigado")

    assert email not in masked
    assert "@" not in masked
    assert masked == "contato: [email], obrigado"


def test_that_a_bsuid_keeps_no_more_than_its_last_two_digits() -> None:
    masked = mask_text(f"recipient={BSUID}")

    assert "1502576394655843" not in masked
    assert masked.endswith("43]")


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22T02:52:11Z",
        "at 2026-11-22 02:52:11 the job ran",
        "pedido 42 criado em 2026",
        "correlation 9f8e7d6c5b4a3921 ok",
        "a1b2c3d4e5f60718",
        "SHIPPING_LABEL12",
        "uuid 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "Olá, tudo bem? Quero saber do meu pedido.",
        "R$ 19,90 em 3x",
        "",
    ],
)
def test_that_timestamps_short_numbers_hex_ids_and_words_are_left_alone(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("agendado para 2026-11-22 98765-4321", "98765-4321"),
        ("entrega 2026-11-22 (21) 99876-5432", "99876-5432"),
        ("2026-11-22 5511987654321", "5511987654321"),
    ],
)
def test_that_a_phone_written_right_after_a_date_is_still_masked(text: str, phone: str) -> None:
    masked = mask_text(text)

    assert phone not in masked
    assert "2026-11-22" in masked


def test_that_an_iso_timestamp_with_microseconds_and_offset_is_left_alone() -> None:
    text = "2026-11-22T02:52:11.123456+00:00"

    assert mask_text(text) == text


def test_that_mask_value_walks_nested_dicts_lists_and_tuples() -> None:
    event = {
        "contact": {"cpf": CPF, "emails": ["a@b.com", "ok"], "phones": ("+55 11 98765-4321",)},
        "items": [{"cnpj": "11222333000181"}, 42],
        "note": "sem dados pessoais",
    }

    masked = mask_value(event)

    assert masked["note"] == "sem dados pessoais"
    assert masked["items"][1] == 42
    assert masked["contact"]["emails"] == ["[email]", "ok"]
    flat = repr(masked)
    for raw in (CPF, "a@b.com", "98765-4321", "11222333000181"):
        assert raw not in flat


@pytest.mark.parametrize("number", [52998224725, 5511987654321, 12345678, -98765432])
def test_that_integers_of_eight_digits_or_more_are_masked(number: int) -> None:
    masked = mask_value(number)

    assert isinstance(masked, str)
    assert str(abs(number)) not in masked


@pytest.mark.parametrize("value", [42, 2026, 1234567, 0, True, False, None, 3.5])
def test_that_short_integers_booleans_none_and_floats_pass_through(value: object) -> None:
    masked = mask_value(value)

    assert masked == value
    assert type(masked) is type(value)


def test_that_other_objects_are_masked_through_their_string_form() -> None:
    class Contact:
        def __str__(self) -> str:
            return f"Contact(cpf={CPF})"

    masked = mask_value(Contact())

    assert masked == "Contact(cpf=[cpf:…25])"


_SEPARATORS = [" ", "\n", "\t", ": ", ", ", " (", ") ", "=", '"', " - "]


@settings(max_examples=200, deadline=None, database=None)
@given(
    nine=st.lists(st.integers(0, 9), min_size=9, max_size=9),
    formatted=st.booleans(),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
    left=st.sampled_from(_SEPARATORS),
    right=st.sampled_from(_SEPARATORS),
)
def test_that_a_random_valid_cpf_in_random_text_never_survives_masking(
    nine: list[int], formatted: bool, before: str, after: str, left: str, right: str
) -> None:
    digits = "".join(map(str, _cpf_check_digits(nine)))
    pretty = f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    text = f"{before}{left}{pretty if formatted else digits}{right}{after}"

    masked = mask_text(text)

    assert digits not in masked
    assert pretty not in masked
