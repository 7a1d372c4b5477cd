"""Who may see what: a conversation is verified as a customer for the current session only.

A contact is verified as the customer behind a CPF/CNPJ when the conversation's phone is the
phone the ERP has for that customer, or when the person answers the tenant's challenge (the birth
date or the CEP on file). Typing someone else's CPF from another phone therefore reveals nothing.
The proof lives in the session memory, which a session expiry wipes.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Any

import phonenumbers

from atende.brazil.documents import normalize_cep
from atende.connectors.port import Customer

VERIFIED_KEY = "verified"
PENDING_KEY = "verification_pending"
#: Wrong answers allowed before the challenge is locked for the session.
MAX_ATTEMPTS = 3


class Challenge(StrEnum):
    birth_date = "birth_date"
    cep = "cep"


QUESTIONS = {
    Challenge.birth_date: "Para sua segurança, qual é a sua data de nascimento (dd/mm/aaaa)?",
    Challenge.cep: "Para sua segurança, qual é o CEP do endereço do cadastro?",
}


def same_phone(contact_phone: str | None, customer_phone: str | None) -> bool:
    if not contact_phone or not customer_phone:
        return False
    try:
        a = phonenumbers.parse(contact_phone, "BR")
        b = phonenumbers.parse(customer_phone, "BR")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_number_match(a, b) is phonenumbers.MatchType.EXACT_MATCH


def verified_document(state: dict[str, Any]) -> str | None:
    proof = state.get(VERIFIED_KEY)
    return str(proof["document"]) if isinstance(proof, dict) and "document" in proof else None


def mark_verified(state: dict[str, Any], document: str, via: str) -> None:
    state[VERIFIED_KEY] = {"document": document, "via": via}
    state.pop(PENDING_KEY, None)


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


def challenge_passed(challenge: Challenge, customer: Customer, answer: str) -> bool:
    if challenge is Challenge.birth_date:
        given = _parse_birth_date(answer)
        return (
            given is not None and customer.birth_date is not None and given == customer.birth_date
        )
    cep = normalize_cep(re.sub(r"[^\d-]", "", answer))
    return cep is not None and customer.cep is not None and cep == customer.cep
