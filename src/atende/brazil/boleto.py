"""FEBRABAN "boleto de cobrança": the 44-digit barcode and the 47-digit linha digitável.

Barcode (44 digits), positions 1-based::

    1-3    bank code (COMPE)
    4      currency, "9" = real
    5      general check digit: modulo 11 over the other 43 digits
    6-9    due-date factor
    10-19  amount in cents
    20-44  free field (its layout belongs to each bank)

Linha digitável (47 digits), the same data rearranged so a person can type it, with a modulo-10
check digit per block::

    field 1: bank + currency + free field 1-5   + DV   (10 digits)  AAAAA.AAAAA
    field 2: free field 6-15                     + DV   (11 digits)  BBBBB.BBBBBB
    field 3: free field 16-25                    + DV   (11 digits)  CCCCC.CCCCCC
    field 4: the general check digit                    (1 digit)    D
    field 5: due-date factor + amount                   (14 digits)  EEEEEEEEEEEEEE

Due-date factor: the number of days since 1997-10-07 (factor 0). It reached 9999 on 2025-02-21 and
FEBRABAN reset it: 2025-02-22 is factor 1000 and it counts up again from there, i.e. a factor now
repeats every 9000 days. :func:`due_date_factor` uses the old base for dates up to 2025-02-21 and
the new base (2022-05-29, so that 2025-02-22 lands on 1000) from 2025-02-22 to 2049-10-13 (factor
9999 again); other dates raise ``ValueError``. Reading a factor back is therefore ambiguous, and
:func:`due_date_from_factor` picks the candidate closest to a reference date.

A limit of the standard, not of this code: the modulo-11 digit maps the remainders 0, 1 and 10
all to 1, so when the general check digit is 1 some single-digit changes go unnoticed. In a linha
digitável that can only happen in field 5 (factor and amount, which no modulo-10 digit covers);
every single-digit change in fields 1-4 is caught. A barcode has only the modulo-11 digit, so
there it can happen in any position but the currency and the check digit itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from stdnum import luhn

__all__ = [
    "BARCODE_LENGTH",
    "LINHA_DIGITAVEL_LENGTH",
    "Boleto",
    "BoletoProblem",
    "InvalidBoleto",
    "due_date_factor",
    "due_date_from_factor",
    "general_check_digit",
    "parse_barcode",
    "parse_linha_digitavel",
]

BARCODE_LENGTH = 44
LINHA_DIGITAVEL_LENGTH = 47
CURRENCY_REAL = "9"
MAX_AMOUNT_CENTS = 10**10 - 1

FACTOR_BASE = date(1997, 10, 7)
FACTOR_RESET_DAY = date(2025, 2, 22)
FACTOR_AFTER_RESET = 1000
FACTOR_MAX = 9999
# Chosen so that FACTOR_RESET_DAY is factor 1000: 2022-05-29, exactly 9000 days after FACTOR_BASE.
FACTOR_NEW_BASE = FACTOR_RESET_DAY - timedelta(days=FACTOR_AFTER_RESET)
LAST_DUE_DATE = FACTOR_NEW_BASE + timedelta(days=FACTOR_MAX)

# A linha digitável arrives copied from PDFs, e-mails and bank apps: dots, spaces, line breaks.
_SEPARATORS = re.compile(r"[.\s-]")
_DIGITS = re.compile(r"[0-9]*")
# Utility and tax bills ("arrecadação") start with 8 and follow another layout: a 44-digit
# barcode like ours and a 48-digit line.
_UTILITY_PREFIX = "8"
_UTILITY_LINE_LENGTH = 48


class BoletoProblem(StrEnum):
    """Why a code or a boleto was rejected (stable, for programs; compares equal to strings)."""

    empty = "empty"
    characters = "characters"
    length = "length"
    utility_bill = "utility_bill"
    field_check_digit = "field_check_digit"
    general_check_digit = "general_check_digit"
    currency = "currency"
    bank_code = "bank_code"
    free_field = "free_field"
    amount = "amount"
    due_date = "due_date"


_MESSAGES = {
    BoletoProblem.empty: "Envie a linha digitável ou o código de barras do boleto.",
    BoletoProblem.characters: "O código do boleto deve ter apenas números.",
    BoletoProblem.length: (
        "A linha digitável do boleto tem 47 números e o código de barras tem 44. "
        "Confira se copiou o código inteiro."
    ),
    BoletoProblem.utility_bill: (
        "Este código é de uma conta de consumo ou tributo (começa com 8), não de um boleto "
        "bancário."
    ),
    BoletoProblem.field_check_digit: (
        "Um dos números da linha digitável não confere. Confira o código e envie de novo."
    ),
    BoletoProblem.general_check_digit: (
        "O dígito verificador do boleto não confere. Confira o código e envie de novo."
    ),
    BoletoProblem.currency: "Este boleto não é em reais.",
    BoletoProblem.bank_code: "O código do banco deve ter 3 números.",
    BoletoProblem.free_field: "O campo livre do boleto deve ter 25 números.",
    BoletoProblem.amount: "O valor do boleto está fora do limite permitido.",
    BoletoProblem.due_date: "A data de vencimento está fora do intervalo aceito pelos bancos.",
}


class InvalidBoleto(ValueError):
    """A code that is not a valid boleto, or boleto data that cannot be encoded.

    ``reason`` is a :class:`BoletoProblem`; ``message`` is pt-BR for the customer; ``str(error)``
    is English detail for logs.
    """

    def __init__(self, reason: BoletoProblem, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.message = _MESSAGES[reason]


def _is_digits(text: str, length: int) -> bool:
    return len(text) == length and _DIGITS.fullmatch(text) is not None


def _mod10(digits: str) -> str:
    # FEBRABAN's modulo 10 (weights 2,1 from the right, products' digits summed, 10 - remainder,
    # 10 → 0) is exactly the Luhn check digit.
    return luhn.calc_check_digit(digits)


def general_check_digit(digits43: str) -> str:
    """The barcode's general check digit over its 43 other digits (in barcode order).

    Written by hand: FEBRABAN's modulo 11 (weights 2..9 repeating from the right, digit
    ``11 - sum % 11``, with 0, 10 and 11 becoming 1) is not one of stdnum's generic schemes.
    """
    if not _is_digits(digits43, BARCODE_LENGTH - 1):
        raise ValueError("the general check digit is computed over exactly 43 digits")
    total = sum(int(digit) * (2 + i % 8) for i, digit in enumerate(reversed(digits43)))
    result = 11 - total % 11
    return "1" if result in (0, 10, 11) else str(result)


def due_date_factor(due: date) -> int:
    """Days since 1997-10-07 up to 2025-02-21 (9999); from 2025-02-22 (1000) the reset count.

    Raises ``ValueError`` before 1997-10-07 or after 2049-10-13, where the reset cycle reaches
    9999 again and FEBRABAN has not said what follows.
    """
    if isinstance(due, datetime):
        raise TypeError("due_date_factor takes a date, not a datetime")
    if FACTOR_BASE <= due < FACTOR_RESET_DAY:
        return (due - FACTOR_BASE).days
    if FACTOR_RESET_DAY <= due <= LAST_DUE_DATE:
        return (due - FACTOR_NEW_BASE).days
    raise ValueError(
        f"{due.isoformat()} has no due-date factor "
        f"(valid from {FACTOR_BASE.isoformat()} to {LAST_DUE_DATE.isoformat()})"
    )


def due_date_from_factor(factor: int, *, reference: date) -> date:
    """The due date a factor stands for, choosing the candidate closest to ``reference``.

    A factor of 1000..9999 names two dates 9000 days apart (before and after the 2025 reset);
    0..999 only ever existed before it. Pass today for a boleto someone is about to pay. On an
    exact tie the later date wins, since boletos are issued for the future.
    """
    if not 0 <= factor <= FACTOR_MAX:
        raise ValueError(f"a due-date factor has 4 digits, got {factor}")
    candidates = [FACTOR_BASE + timedelta(days=factor)]
    if factor >= FACTOR_AFTER_RESET:
        candidates.append(FACTOR_NEW_BASE + timedelta(days=factor))
    return min(candidates, key=lambda day: (abs((day - reference).days), -day.toordinal()))


@dataclass(frozen=True)
class Boleto:
    """A boleto de cobrança in reais. Construction validates, so every instance can be encoded.

    Raises :class:`InvalidBoleto` (a ``ValueError``) when the bank code is not 3 digits, the free
    field not 25 digits, the amount outside 0..9,999,999,999 cents or the due date outside the
    range of the due-date factor.
    """

    bank_code: str
    due_date: date
    amount_cents: int
    free_field: str

    def __post_init__(self) -> None:
        if not _is_digits(self.bank_code, 3):
            raise InvalidBoleto(BoletoProblem.bank_code, f"bank code {self.bank_code!r}")
        if not _is_digits(self.free_field, 25):
            raise InvalidBoleto(BoletoProblem.free_field, f"free field {self.free_field!r}")
        if (
            isinstance(self.amount_cents, bool)
            or not isinstance(self.amount_cents, int)
            or not 0 <= self.amount_cents <= MAX_AMOUNT_CENTS
        ):
            raise InvalidBoleto(BoletoProblem.amount, f"amount {self.amount_cents!r} cents")
        try:
            due_date_factor(self.due_date)
        except (TypeError, ValueError) as error:
            raise InvalidBoleto(BoletoProblem.due_date, str(error)) from error

    @property
    def factor(self) -> int:
        """The 4-digit due-date factor of :attr:`due_date`."""
        return due_date_factor(self.due_date)

    @property
    def barcode(self) -> str:
        """The 44 digits the ITF barcode encodes."""
        head = f"{self.bank_code}{CURRENCY_REAL}"
        tail = f"{self.factor:04d}{self.amount_cents:010d}{self.free_field}"
        return f"{head}{general_check_digit(head + tail)}{tail}"

    @property
    def linha_digitavel(self) -> str:
        """The 47 digits a person types, without punctuation."""
        return _linha_from_barcode(self.barcode)

    @property
    def linha_digitavel_formatted(self) -> str:
        """``AAAAA.AAAAA BBBBB.BBBBBB CCCCC.CCCCCC D EEEEEEEEEEEEEE``, as printed on the slip."""
        line = self.linha_digitavel
        return (
            f"{line[0:5]}.{line[5:10]} {line[10:15]}.{line[15:21]} "
            f"{line[21:26]}.{line[26:32]} {line[32]} {line[33:47]}"
        )


def _linha_from_barcode(barcode: str) -> str:
    free = barcode[19:44]
    field1 = barcode[0:4] + free[0:5]
    field2 = free[5:15]
    field3 = free[15:25]
    return (
        f"{field1}{_mod10(field1)}{field2}{_mod10(field2)}{field3}{_mod10(field3)}"
        f"{barcode[4]}{barcode[5:19]}"
    )


def _digits_of(text: str, expected: int) -> str:
    compact = _SEPARATORS.sub("", text)
    if not compact:
        raise InvalidBoleto(BoletoProblem.empty, "no digits")
    if not _DIGITS.fullmatch(compact):
        raise InvalidBoleto(BoletoProblem.characters, "only digits and separators are allowed")
    if compact.startswith(_UTILITY_PREFIX) and len(compact) == _UTILITY_LINE_LENGTH:
        raise InvalidBoleto(BoletoProblem.utility_bill, "48 digits starting with 8")
    if len(compact) != expected:
        raise InvalidBoleto(BoletoProblem.length, f"expected {expected} digits, got {len(compact)}")
    return compact


def _boleto_from_barcode(barcode: str, reference: date | None) -> Boleto:
    expected = general_check_digit(barcode[:4] + barcode[5:])
    if barcode[4] != expected:
        if barcode.startswith(_UTILITY_PREFIX):
            # A utility bill's 44-digit barcode also starts with 8 and has its check digit
            # elsewhere; only when the bank-slip digit fails is it safe to call it one, since
            # nothing in FEBRABAN's rules forbids a bank code starting with 8.
            raise InvalidBoleto(BoletoProblem.utility_bill, "44 digits starting with 8")
        raise InvalidBoleto(
            BoletoProblem.general_check_digit,
            f"general check digit is {barcode[4]}, expected {expected}",
        )
    if barcode[3] != CURRENCY_REAL:
        raise InvalidBoleto(BoletoProblem.currency, f"currency code {barcode[3]}")
    # The factor's two candidate dates are 9000 days apart, so the time zone of "today" is moot.
    today = reference if reference is not None else date.today()
    return Boleto(
        bank_code=barcode[0:3],
        due_date=due_date_from_factor(int(barcode[5:9]), reference=today),
        amount_cents=int(barcode[9:19]),
        free_field=barcode[19:44],
    )


def parse_barcode(text: str, *, reference: date | None = None) -> Boleto:
    """Read the 44 digits under the bars. ``reference`` (default: today) settles the due date."""
    return _boleto_from_barcode(_digits_of(text, BARCODE_LENGTH), reference)


def parse_linha_digitavel(text: str, *, reference: date | None = None) -> Boleto:
    """Read a linha digitável, formatted or bare, checking all four check digits.

    The three modulo-10 digits are checked first, since they point at the block with the typo;
    then the general modulo-11 digit, which also covers the factor and the amount. ``reference``
    (default: today) settles the due date, see :func:`due_date_from_factor`.
    """
    line = _digits_of(text, LINHA_DIGITAVEL_LENGTH)
    for number, (start, end) in enumerate(((0, 9), (10, 20), (21, 31)), start=1):
        expected = _mod10(line[start:end])
        if line[end] != expected:
            raise InvalidBoleto(
                BoletoProblem.field_check_digit,
                f"field {number} check digit is {line[end]}, expected {expected}",
            )
    barcode = line[0:4] + line[32] + line[33:47] + line[4:9] + line[10:20] + line[21:31]
    return _boleto_from_barcode(barcode, reference)
