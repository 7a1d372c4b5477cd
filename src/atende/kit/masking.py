"""Personal data masking for everything that leaves the process as a log line.

Written by hand on purpose: log masking must be total (every string in every event, including
tracebacks and third-party log records) and cheap, and it must over-match rather than under-match.
A validator library (python-stdnum, validate-docbr) answers "is this a valid CPF?", which is
the wrong question here: an *invalid* CPF typed by a customer is still personal data.
"""

from __future__ import annotations

import re
from typing import Any

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Alphanumeric CNPJ (2026 format): 12 alphanumerics then 2 check digits, optionally punctuated.
# Also covers the classic numeric CNPJ.
_CNPJ = re.compile(
    r"(?<![\w])[A-Za-z0-9]{2}\.?[A-Za-z0-9]{3}\.?[A-Za-z0-9]{3}/?[A-Za-z0-9]{4}-?\d{2}(?![\w])"
)
_CPF = re.compile(r"(?<![\w])\d{3}\.?\d{3}\.?\d{3}-?\d{2}(?![\w])")
# Anything that looks like a phone number: 8+ digits with the usual separators, optional +/().
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().\-]{6,}\d(?![\w])")
# ISO dates and datetimes are left alone (and never glued to a following phone number).
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)"
)
_DIGITS = re.compile(r"\D")


def _tail(value: str, keep: int) -> str:
    digits = _DIGITS.sub("", value)
    return digits[-keep:] if len(digits) > keep else ""


def _cnpj(match: re.Match[str]) -> str:
    text = match.group(0)
    # A 14-character token with no digit pair at the end is a word, not a CNPJ; the regex
    # already requires two digits at the end. Require at least 6 digits in the alnum form to
    # avoid masking ordinary identifiers such as "SHIPPING_LABEL12".
    if sum(ch.isdigit() for ch in text) < 6:
        return text
    return f"[cnpj:…{text[-2:]}]"


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = _DIGITS.sub("", text)
    if len(digits) < 8:
        return text
    return f"[phone:…{digits[-2:]}]"


def mask_text(text: str) -> str:
    if not any(ch.isdigit() for ch in text) and "@" not in text:
        return text
    pieces: list[str] = []
    start = 0
    for date in _ISO_DATETIME.finditer(text):
        pieces.append(_mask_piece(text[start : date.start()]))
        pieces.append(date.group(0))
        start = date.end()
    pieces.append(_mask_piece(text[start:]))
    return "".join(pieces)


def _mask_piece(text: str) -> str:
    if not text:
        return text
    text = _EMAIL.sub("[email]", text)
    text = _CNPJ.sub(_cnpj, text)
    text = _CPF.sub(lambda m: f"[cpf:…{_tail(m.group(0), 2)}]", text)
    return _PHONE.sub(_phone, text)


def mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return mask_text(str(value)) if abs(value) >= 10_000_000 else value
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(v) for v in value]
    if isinstance(value, float):
        return value
    return mask_text(str(value))
