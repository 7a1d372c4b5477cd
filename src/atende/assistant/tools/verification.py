"""Who may see what: a conversation is verified as a customer for the current session only.

A contact is verified as the customer behind a CPF/CNPJ when the conversation's phone is the
phone the ERP has for that customer, or when the person answers the tenant's challenge for that
kind of customer (a person's birth date, a company's CEP on file). Typing someone else's CPF from
another phone therefore reveals nothing.

Nor does typing a CPF nobody has: until the challenge is passed, a document that is not in the
ERP gets the same question, the same "não confere", the same attempt count and the same lock as
a customer's, so nobody can learn who is a customer. The question depends only on what anyone
can see in the document itself (11 digits: a person; 14: a company).

The proof lives in the session memory (``SessionMemory.identity``, apart from the dialogue's
slots), which a session expiry wipes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import phonenumbers

from atende.assistant.memory import Proof, SessionMemory
from atende.brazil.documents import DocumentKind, normalize_cep
from atende.connectors.port import Customer
from atende.kit.logging import get_logger

log = get_logger(__name__)

#: Wrong answers allowed before the challenge is locked for the session.
MAX_ATTEMPTS = 3


class Challenge(StrEnum):
    birth_date = "birth_date"
    cep = "cep"
    #: The amount of one of the customer's open boletos or recent orders: unlike a company's
    #: CEP (public in the CNPJ register), only the customer and the business know it.
    invoice_amount = "invoice_amount"


QUESTIONS = {
    Challenge.birth_date: "Para sua segurança, qual é a sua data de nascimento (dd/mm/aaaa)?",
    Challenge.cep: "Para sua segurança, qual é o CEP do endereço do cadastro?",
    Challenge.invoice_amount: (
        "Para sua segurança, qual é o valor de um dos seus boletos em aberto ou de um pedido "
        "recente (por exemplo, 1.234,56)?"
    ),
}
#: The challenges a company can answer (a company has no birth date).
COMPANY_CHALLENGES = frozenset({Challenge.cep, Challenge.invoice_amount})


@dataclass(frozen=True, slots=True)
class ChallengePolicy:
    """The tenant's question for each kind of customer.

    ``settings["verification_challenge"]`` is either one challenge for everyone (the older form,
    ``"cep"``; ``"birth_date"`` then asks companies for their CEP, since they have no birth date)
    or one per kind: ``{"person": "birth_date", "company": "cep"}``.
    """

    person: Challenge = Challenge.birth_date
    company: Challenge = Challenge.cep

    @classmethod
    def from_setting(cls, value: object) -> ChallengePolicy:
        default = cls()
        if value is None:
            return default
        if isinstance(value, Mapping):
            person = _challenge(value.get("person"), default.person)
            company = _challenge(value.get("company"), default.company)
        else:
            person = company = _challenge(value, default.person)
        if company not in COMPANY_CHALLENGES:
            company = default.company
        return cls(person=person, company=company)

    def for_kind(self, kind: DocumentKind | None) -> Challenge:
        return self.company if kind is DocumentKind.cnpj else self.person


def _challenge(value: object, default: Challenge) -> Challenge:
    if value is None:
        return default
    try:
        return Challenge(str(value))
    except ValueError:
        # A typo in a tenant's settings must not stop its conversations: the default question.
        log.warning("unknown verification challenge in tenant settings", value=str(value)[:40])
        return default


def same_phone(contact_phone: str | None, customer_phone: str | None) -> bool:
    if not contact_phone or not customer_phone:
        return False
    try:
        a = phonenumbers.parse(contact_phone, "BR")
        b = phonenumbers.parse(customer_phone, "BR")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_number_match(a, b) is phonenumbers.MatchType.EXACT_MATCH


def verified_document(state: SessionMemory) -> str | None:
    return state.verified_document


def mark_verified(state: SessionMemory, document: str, via: str) -> None:
    state.identity.verified = Proof(document=document, via=via)
    state.identity.pending = None


_DATE = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{2,4})")


def _parse_birth_date(text: str) -> date | None:
    match = _DATE.search(text)
    if match is None:
        return None
    day, month, year = (int(part) for part in match.groups())
    if year < 100:  # "12/04/86": two-digit years of adults are in the 1900s or 2000s
        year += 1900 if year > date.today().year % 100 else 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


_AMOUNT = re.compile(r"(?<![\d.,])(\d{1,3}(?:\.\d{3})+|\d+)[,.](\d{2})(?![\d.,]\d)")


def _parse_amount_cents(text: str) -> int | None:
    """ "R$ 1.234,56", "1234,56" or "1234.56" in cents; centavos are required, so that a guess
    of round numbers never passes."""
    match = _AMOUNT.search(text)
    if match is None:
        return None
    return int(match.group(1).replace(".", "")) * 100 + int(match.group(2))


def challenge_passed(
    challenge: Challenge, customer: Customer, answer: str, amounts: frozenset[int] = frozenset()
) -> bool:
    """Whether ``answer`` is right for ``customer``; ``amounts`` are the cents of their open
    boletos and recent orders (for :attr:`Challenge.invoice_amount`)."""
    if challenge is Challenge.invoice_amount:
        cents = _parse_amount_cents(answer)
        return cents is not None and cents in amounts
    if challenge is Challenge.birth_date:
        given = _parse_birth_date(answer)
        return (
            given is not None and customer.birth_date is not None and given == customer.birth_date
        )
    cep = normalize_cep(re.sub(r"[^\d-]", "", answer))
    return cep is not None and customer.cep is not None and cep == customer.cep
