from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atende.brazil.boleto import (
    Boleto,
    InvalidBoleto,
    due_date_factor,
    due_date_from_factor,
    general_check_digit,
    parse_barcode,
    parse_linha_digitavel,
)

# A Banco do Brasil-shaped boleto: R$ 1.234,56 due 2025-03-10, free field "convênio de 7
# posições" style (6 zeros + convênio 1234567 + nosso número 0000000001 + carteira 17).
EXAMPLE = Boleto(
    bank_code="001",
    due_date=date(2025, 3, 10),
    amount_cents=123456,
    free_field="0000001234567000000000117",
)
# Worked by hand:
#
# Factor: 2025-02-22 is 1000 after the reset, 2025-03-10 is 16 days later → 1016.
#
# Barcode without its check digit (43 digits), weights 2..9 repeating from the right:
#   0019 | 1016 | 0000123456 | 0000001234567000000000117
#   weights, left to right: 4 3 2 9 | 8 7 6 5 | 4 3 2 9 8 7 6 5 4 3 |
#                           2 9 8 7 6 5 4 3 2 9 8 7 6 5 4 3 2 9 8 7 6 5 4 3 2
#   bank+currency  1·2 + 9·9                               =  83
#   factor         1·8 + 1·6 + 6·5                         =  44
#   amount         1·8 + 2·7 + 3·6 + 4·5 + 5·4 + 6·3       =  98
#   free field     1·4 + 2·3 + 3·2 + 4·9 + 5·8 + 6·7 + 7·6
#                  + 1·4 + 1·3 + 7·2                       = 197
#   sum 422 = 38·11 + 4 → check digit 11 - 4 = 7
#   barcode: 001 9 7 1016 0000123456 0000001234567000000000117
#
# Linha digitável, modulo 10 (weights 2,1 from the right, digits of products summed):
#   field 1 "001900000": from the right 0·2 0·1 0·2 0·1 0·2 9·1 1·2 0·1 0·2 → 11 → 10 - 1 = 9
#   field 2 "0123456700": from the right 0·2 0·1 7·2=14→5 6·1 5·2=10→1 4·1 3·2 2·1 1·2 0·1
#           → 0+0+5+6+1+4+6+2+2+0 = 26 → 10 - 6 = 4
#   field 3 "0000000117": from the right 7·2=14→5 1·1 1·2 → 8 → 10 - 8 = 2
#   field 4: the general check digit 7; field 5: factor + amount 1016 0000123456
EXAMPLE_BARCODE = "00197101600001234560000001234567000000000117"
EXAMPLE_LINE = "00190000090123456700400000001172710160000123456"
EXAMPLE_LINE_FORMATTED = "00190.00009 01234.567004 00000.001172 7 10160000123456"

# A real Caixa boleto published as a test vector by the boleto-utils project (mrmgomes): R$ 214,03
# due 2022-05-10 (factor 8981, before the reset).
CAIXA_BARCODE = "10499898100000214032006561000100040099726390"
CAIXA_LINE = "10492006506100010004200997263900989810000021403"

DIGITS = "0123456789"


def test_that_the_hand_worked_example_encodes_to_the_expected_codes() -> None:
    assert EXAMPLE.factor == 1016
    assert general_check_digit(EXAMPLE_BARCODE[:4] + EXAMPLE_BARCODE[5:]) == "7"
    assert EXAMPLE.barcode == EXAMPLE_BARCODE
    assert EXAMPLE.linha_digitavel == EXAMPLE_LINE
    assert EXAMPLE.linha_digitavel_formatted == EXAMPLE_LINE_FORMATTED


def test_that_the_hand_worked_example_parses_back_from_both_codes() -> None:
    reference = date(2025, 3, 1)

    assert parse_barcode(EXAMPLE_BARCODE, reference=reference) == EXAMPLE
    assert parse_linha_digitavel(EXAMPLE_LINE, reference=reference) == EXAMPLE
    assert parse_linha_digitavel(EXAMPLE_LINE_FORMATTED, reference=reference) == EXAMPLE


def test_that_a_real_caixa_boleto_parses_and_converts_between_its_two_codes() -> None:
    boleto = parse_linha_digitavel(CAIXA_LINE, reference=date(2022, 5, 1))

    assert boleto == Boleto("104", date(2022, 5, 10), 21403, "2006561000100040099726390")
    assert boleto.barcode == CAIXA_BARCODE
    assert parse_barcode(CAIXA_BARCODE, reference=date(2022, 5, 1)) == boleto


@pytest.mark.parametrize(
    "text",
    [
        "00190.00009 01234.567004 00000.001172 7 10160000123456",
        "00190000090123456700400000001172710160000123456",
        " 00190.00009\n01234.567004\t00000.001172 7 10160000123456 ",
        "00190-00009 01234-567004 00000-001172 7 10160000123456",
    ],
)
def test_that_a_linha_digitavel_is_accepted_formatted_or_bare(text: str) -> None:
    assert parse_linha_digitavel(text, reference=date(2025, 3, 1)) == EXAMPLE


@pytest.mark.parametrize(
    ("day", "factor"),
    [
        (date(1997, 10, 7), 0),
        (date(2000, 7, 3), 1000),
        (date(2022, 5, 10), 8981),
        (date(2025, 2, 21), 9999),
        (date(2025, 2, 22), 1000),
        (date(2025, 2, 23), 1001),
        (date(2049, 10, 13), 9999),
    ],
)
def test_that_the_due_date_factor_counts_days_and_resets_on_2025_02_22(
    day: date, factor: int
) -> None:
    assert due_date_factor(day) == factor


@pytest.mark.parametrize("day", [date(1997, 10, 6), date(2049, 10, 14), date(1900, 1, 1)])
def test_that_a_date_outside_the_factor_range_raises(day: date) -> None:
    with pytest.raises(ValueError, match="no due-date factor"):
        due_date_factor(day)


def test_that_a_datetime_is_not_taken_for_a_due_date() -> None:
    with pytest.raises(TypeError):
        due_date_factor(datetime(2025, 3, 10, 12, 0))


@pytest.mark.parametrize(
    ("factor", "reference", "due"),
    [
        (1000, date(2025, 2, 1), date(2025, 2, 22)),
        (1000, date(2001, 1, 1), date(2000, 7, 3)),
        (9999, date(2025, 2, 1), date(2025, 2, 21)),
        (8981, date(2022, 5, 1), date(2022, 5, 10)),
        (8981, date(2046, 1, 1), date(2046, 12, 30)),
        (500, date(2030, 1, 1), date(1999, 2, 19)),
        (0, date(2026, 1, 1), date(1997, 10, 7)),
    ],
)
def test_that_a_factor_is_read_as_the_candidate_date_closest_to_the_reference(
    factor: int, reference: date, due: date
) -> None:
    assert due_date_from_factor(factor, reference=reference) == due


def test_that_a_tie_between_the_two_candidate_dates_picks_the_later_one() -> None:
    # 1000 is 2000-07-03 or 2025-02-22, 9000 days apart; the midpoint is 4500 days after the first.
    midpoint = date(2000, 7, 3) + timedelta(days=4500)

    assert due_date_from_factor(1000, reference=midpoint) == date(2025, 2, 22)


@pytest.mark.parametrize("factor", [-1, 10000])
def test_that_a_factor_outside_four_digits_raises(factor: int) -> None:
    with pytest.raises(ValueError, match="4 digits"):
        due_date_from_factor(factor, reference=date(2025, 1, 1))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"bank_code": "01"}, "bank_code"),
        ({"bank_code": "0a1"}, "bank_code"),
        ({"free_field": "1" * 24}, "free_field"),
        ({"free_field": "1" * 24 + "x"}, "free_field"),
        ({"amount_cents": -1}, "amount"),
        ({"amount_cents": 10**10}, "amount"),
        ({"amount_cents": True}, "amount"),
        ({"due_date": date(1997, 10, 6)}, "due_date"),
        ({"due_date": date(2050, 1, 1)}, "due_date"),
    ],
)
def test_that_a_boleto_that_cannot_be_encoded_is_refused_on_construction(
    fields: dict[str, object], reason: str
) -> None:
    values: dict[str, object] = {
        "bank_code": "001",
        "due_date": date(2025, 3, 10),
        "amount_cents": 100,
        "free_field": "0" * 25,
        **fields,
    }

    with pytest.raises(InvalidBoleto) as raised:
        Boleto(**values)  # type: ignore[arg-type]  # wrong types are what is being tested

    assert raised.value.reason == reason
    assert isinstance(raised.value, ValueError)


def test_that_the_largest_amount_and_a_zero_amount_are_encoded() -> None:
    largest = Boleto("341", date(2030, 1, 1), 10**10 - 1, "1" * 25)
    blank = Boleto("341", date(2030, 1, 1), 0, "1" * 25)

    assert largest.barcode[9:19] == "9999999999"
    assert blank.barcode[9:19] == "0000000000"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        (" . ", "empty"),
        ("00190.00009 01234.567004 00000.001172 7 1016000012345X", "characters"),
        ("0019000009012345670040000000117271016000012345", "length"),
        ("001900000901234567004000000011727101600001234560", "length"),
        ("838600000050096000190009000801782309000343062712", "utility_bill"),
        # Field 2's check digit 4 changed to 5.
        ("00190.00009 01234.567005 00000.001172 7 10160000123456", "field_check_digit"),
        # General check digit 7 changed to 8.
        ("00190.00009 01234.567004 00000.001172 8 10160000123456", "general_check_digit"),
        # Amount changed (1234,56 → 1234,57): only the general digit covers it.
        ("00190.00009 01234.567004 00000.001172 7 10160000123457", "general_check_digit"),
    ],
)
def test_that_a_wrong_linha_digitavel_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidBoleto) as raised:
        parse_linha_digitavel(text, reference=date(2025, 3, 1))

    assert raised.value.reason == reason
    assert raised.value.message  # pt-BR, for the customer


def test_that_a_field_check_digit_error_names_the_field() -> None:
    with pytest.raises(InvalidBoleto, match="field 3 check digit is 3, expected 2"):
        parse_linha_digitavel("00190.00009 01234.567004 00000.001173 7 10160000123456")


def test_that_a_code_in_another_currency_is_refused() -> None:
    # Currency 0 instead of 9, with the check digits recomputed so that only the currency is off.
    body = "0010" + "1016" + "0000123456" + "0000001234567000000000117"
    barcode = body[:4] + general_check_digit(body) + body[4:]

    with pytest.raises(InvalidBoleto) as raised:
        parse_barcode(barcode)

    assert raised.value.reason == "currency"
    assert raised.value.message == "Este boleto não é em reais."


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0019710160000123456000000123456700000000011", "length"),
        ("00198101600001234560000001234567000000000117", "general_check_digit"),
        ("83860000005096000190000008017823000034306271", "utility_bill"),
        ("0019710160000123456000000123456700000000011a", "characters"),
    ],
)
def test_that_a_wrong_barcode_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidBoleto) as raised:
        parse_barcode(text)

    assert raised.value.reason == reason


def test_that_the_weak_spot_of_the_general_check_digit_is_real() -> None:
    # Remainders 0, 1 and 10 all give check digit 1, so when it is 1 some changes in the factor
    # or amount (which no modulo-10 digit covers) go unnoticed. Pinned as documentation:
    #   "2379" 2·4 + 3·3 + 7·2 + 9·9 = 112; "1016" 1·8 + 1·6 + 6·5 = 44; free field all zeros
    #   amount 0000000200: the 2 has weight 5 → 112 + 44 + 10 = 166 = 15·11 + 1  → 10 → 1
    #   amount 0000000400:                     → 112 + 44 + 20 = 176 = 16·11 + 0  → 11 → 1
    #   amount 0000000600:                     → 112 + 44 + 30 = 186 = 16·11 + 10 → 1
    amounts = []
    for amount in ("0000000200", "0000000400", "0000000600"):
        body = "2379" + "1016" + amount + "0" * 25
        assert general_check_digit(body) == "1"
        barcode = body[:4] + "1" + body[4:]
        amounts.append(parse_barcode(barcode, reference=date(2025, 3, 1)).amount_cents)

    assert amounts == [200, 400, 600]


boletos = st.builds(
    Boleto,
    bank_code=st.text(alphabet=DIGITS, min_size=3, max_size=3),
    due_date=st.dates(min_value=date(1997, 10, 7), max_value=date(2049, 10, 13)),
    amount_cents=st.integers(min_value=0, max_value=10**10 - 1),
    free_field=st.text(alphabet=DIGITS, min_size=25, max_size=25),
)


@settings(max_examples=200, database=None)
@given(boleto=boletos)
def test_that_a_boleto_round_trips_through_barcode_and_linha_digitavel(boleto: Boleto) -> None:
    reference = boleto.due_date

    from_barcode = parse_barcode(boleto.barcode, reference=reference)
    from_line = parse_linha_digitavel(boleto.linha_digitavel, reference=reference)
    from_formatted = parse_linha_digitavel(boleto.linha_digitavel_formatted, reference=reference)

    assert from_barcode == from_line == from_formatted == boleto
    assert len(boleto.barcode) == 44
    assert len(boleto.linha_digitavel) == 47


@settings(max_examples=300, database=None)
@given(
    boleto=boletos,
    position=st.integers(min_value=0, max_value=46),
    shift=st.integers(min_value=1, max_value=9),
)
def test_that_one_changed_digit_in_a_linha_digitavel_is_caught_outside_the_weak_spot(
    boleto: Boleto, position: int, shift: int
) -> None:
    line = boleto.linha_digitavel
    changed = line[:position] + str((int(line[position]) + shift) % 10) + line[position + 1 :]

    try:
        parse_linha_digitavel(changed, reference=boleto.due_date)
    except InvalidBoleto:
        return
    # Fields 1 to 4 (positions 0-32) are always caught; field 5 (factor and amount) only when the
    # general check digit is not 1, see the weak-spot test above.
    assert position >= 33
    assert boleto.barcode[4] == "1"


@settings(max_examples=300, database=None)
@given(
    boleto=boletos,
    position=st.integers(min_value=0, max_value=43),
    shift=st.integers(min_value=1, max_value=9),
)
def test_that_one_changed_digit_in_a_barcode_is_caught_unless_its_check_digit_is_1(
    boleto: Boleto, position: int, shift: int
) -> None:
    code = boleto.barcode
    changed = code[:position] + str((int(code[position]) + shift) % 10) + code[position + 1 :]

    try:
        parse_barcode(changed, reference=boleto.due_date)
    except InvalidBoleto:
        return
    assert position not in (3, 4)
    assert code[4] == "1"
