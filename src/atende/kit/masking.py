"""Personal data masking for everything that leaves the process as a log line.

Written by hand on purpose: log masking must be total (every string in every event, including
tracebacks and third-party log records) and cheap, and it must over-match rather than under-match.
A validator library (python-stdnum, validate-docbr) answers "is this a valid CPF?", which is
the wrong question here: an *invalid* CPF typed by a customer is still personal data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
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


#: SQLAlchemy renders a failed statement's bound values as ``[parameters: …]`` on one line. The
#: engines are created with ``hide_parameters=True``; this is the net under it (another engine,
#: a library's own message), so no line ever carries them.
_PARAMETERS = re.compile(r"\[parameters: [^\n]*")
_PARAMETERS_HIDDEN = "[parameters hidden]"

#: Values a regex cannot recognise (a customer's name, what they wrote), registered while they
#: are being handled; see :func:`sensitive`.
_SENSITIVE: ContextVar[tuple[str, ...]] = ContextVar("atende_sensitive", default=())
#: Shorter values would mask ordinary words of our own log lines ("oi", "sim").
_MIN_SENSITIVE = 4
_SENSITIVE_ATTR = "_atende_sensitive"


@contextmanager
def sensitive(values: Iterable[str | None]) -> Iterator[None]:
    """Mask ``values`` (names, message bodies) in every log line written inside the block, and in
    the text of any exception leaving it, wherever that exception is logged later (a worker logs
    a failed job after the handler's block has ended)."""
    found = tuple(
        dict.fromkeys(v for v in values if v is not None and len(v.strip()) >= _MIN_SENSITIVE)
    )
    if not found:
        yield
        return
    token = _SENSITIVE.set(_SENSITIVE.get() + found)
    try:
        yield
    except BaseException as error:
        remember_sensitive(error, found)
        raise
    finally:
        _SENSITIVE.reset(token)


def remember_sensitive(error: BaseException, values: tuple[str, ...]) -> None:
    known: tuple[str, ...] = getattr(error, _SENSITIVE_ATTR, ())
    # Exceptions with __slots__ and no __dict__ cannot carry them; the context still masks.
    with suppress(AttributeError):
        setattr(error, _SENSITIVE_ATTR, known + values)


def sensitive_in(error: BaseException | None) -> tuple[str, ...]:
    """The sensitive values carried by an exception and the exceptions it chains."""
    found: list[str] = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        found.extend(getattr(error, _SENSITIVE_ATTR, ()))
        error = error.__cause__ or error.__context__
    return tuple(found)


def _mask_sensitive(text: str, values: tuple[str, ...]) -> str:
    # Longest first: a body that contains the name is masked whole.
    for value in sorted(set(values), key=len, reverse=True):
        if value in text:
            text = text.replace(value, "[redacted]")
    return text


def mask_text(text: str, extra: tuple[str, ...] = (), *, keep: tuple[str, ...] = ()) -> str:
    """``extra``: more values to mask (see :func:`sensitive`); ``keep``: values left intact
    (identifiers in an already rendered line, e.g. an all-digit correlation id)."""
    if not keep:
        return _mask(text, extra)
    # Placeholders without digits or word characters next to them, restored after masking.
    kept = [value for value in dict.fromkeys(keep) if value]
    for index, value in enumerate(kept):
        text = text.replace(value, f"\x00{_letters(index)}\x00")
    text = _mask(text, extra)
    for index, value in enumerate(kept):
        text = text.replace(f"\x00{_letters(index)}\x00", value)
    return text


def _letters(index: int) -> str:
    return "".join(chr(ord("a") + int(d)) for d in str(index))


def _mask(text: str, extra: tuple[str, ...]) -> str:
    if "[parameters: " in text:
        text = _PARAMETERS.sub(_PARAMETERS_HIDDEN, text)
    values = _SENSITIVE.get() + extra
    if values:
        text = _mask_sensitive(text, values)
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


def mask_value(value: Any, extra: tuple[str, ...] = ()) -> Any:
    if isinstance(value, str):
        return mask_text(value, extra)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return mask_text(str(value), extra) if abs(value) >= 10_000_000 else value
    if isinstance(value, dict):
        return {k: mask_value(v, extra) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(v, extra) for v in value]
    if isinstance(value, float):
        return value
    return mask_text(str(value), extra)
