"""The demo ERP's billing rules: re-issuing overdue boletos and the bank's free field.

Re-issue rule (this connector's, as a real ERP would have its own):

* a título not yet due keeps its amount and due date;
* an overdue título gets a new due date three calendar days from today, and its amount gains a
  2% fine (multa) once, plus 1% interest a month pro rata die (juros de mora: 1%/30 per day)
  counted from the original due date to the *new* due date, because the customer may pay on any
  day up to it and the bank will not charge more than what is printed;
* a título overdue by more than 59 days is not re-issued (the demo's stand-in for "sent to
  collection"): the customer is told to talk to the finance team;
* a paid título is never re-issued.

Cents are rounded half up at each step (fine, then interest), as banks print them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from atende.connectors.port import Refused

FINE_PERCENT = 2
MONTHLY_INTEREST_PERCENT = 1
DAYS_PER_MONTH = 30
REISSUE_DUE_IN_DAYS = 3
MAX_DAYS_OVERDUE_FOR_REISSUE = 59

TOO_LATE_TO_REISSUE = (
    "Boletos vencidos há mais de 59 dias não podem ser reemitidos; fale com o financeiro."
)
ALREADY_PAID = "Este título já foi pago; não há segunda via a emitir."

# Itaú's layout (bank 341, carteira 109) for a plausible free field; the account is fictitious.
BANK_CODE = "341"
_CARTEIRA = "109"
_AGENCIA = "1500"
_CONTA = "12345"


@dataclass(frozen=True, slots=True)
class Charge:
    due_date: date
    amount_cents: int
    fine_cents: int
    interest_cents: int
    reissued: bool


def _half_up(numerator: int, denominator: int) -> int:
    return (numerator + denominator // 2) // denominator


def charge_for(amount_cents: int, due_date: date, *, paid: bool, today: date) -> Charge:
    """What a second copy of this título asks the customer to pay, and by when."""
    if paid:
        raise Refused(ALREADY_PAID)
    days_overdue = (today - due_date).days
    if days_overdue <= 0:
        return Charge(due_date, amount_cents, 0, 0, reissued=False)
    if days_overdue > MAX_DAYS_OVERDUE_FOR_REISSUE:
        raise Refused(TOO_LATE_TO_REISSUE)
    new_due = today + timedelta(days=REISSUE_DUE_IN_DAYS)
    fine = _half_up(amount_cents * FINE_PERCENT, 100)
    interest_days = (new_due - due_date).days
    interest = _half_up(
        amount_cents * MONTHLY_INTEREST_PERCENT * interest_days, 100 * DAYS_PER_MONTH
    )
    return Charge(new_due, amount_cents + fine + interest, fine, interest, reissued=True)


def _mod10(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def nosso_numero(titulo_id: str) -> str:
    """Eight digits identifying the título at the bank, derived from its id."""
    digits = "".join(ch for ch in titulo_id if ch.isdigit())
    if not digits:
        # Ids without digits still need a stable number; a hash keeps it stable across runs.
        digits = str(int(hashlib.sha256(titulo_id.encode()).hexdigest(), 16))
    return digits[-8:].zfill(8)


def free_field(titulo_id: str) -> str:
    """The 25-digit campo livre: carteira, nosso número + DAC, agência, conta + DAC, zeros."""
    number = nosso_numero(titulo_id)
    number_dac = _mod10(_AGENCIA + _CONTA + _CARTEIRA + number)
    account_dac = _mod10(_AGENCIA + _CONTA)
    field = f"{_CARTEIRA}{number}{number_dac}{_AGENCIA}{_CONTA}{account_dac}000"
    assert len(field) == 25
    return field
