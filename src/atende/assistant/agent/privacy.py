"""Placeholders for personal data, so that the model provider never receives it.

A hosted model is a third party: the customer's CPF, CNPJ, phone numbers and e-mail addresses
must not leave the process in a prompt. The agent still needs to *talk about* them (call
``identify_customer`` with the CPF the customer typed, repeat the e-mail on file), so each value
is swapped for a stable placeholder such as ``[CPF_1]`` before anything is sent, and swapped back
in what comes from the model (tool-call arguments, the final reply) before it is used.

Detection is deliberately lopsided. An over-redaction costs the model a little context; a leak
cannot be undone. So a CPF-shaped number is redacted whether or not its check digits are valid
(an invalid CPF typed by a customer is still personal data), and so is a formatted CNPJ. What is
left alone is what only *looks* like a document or a phone: money, dates, CEPs, order ids and
SKUs, and above all the codes the customer must receive intact (a linha digitável, a barcode, a
tracking code), inside which a phone matcher happily finds "numbers". Bare 14-character runs with
invalid check digits are not CNPJs here: GTIN-14 product codes and carrier tracking numbers have
that shape.

One :class:`Redactor` serves one turn; :meth:`Redactor.state` and :meth:`Redactor.from_state`
carry the placeholders across the turns of a session, so ``[CPF_1]`` keeps meaning the same CPF
in the model's context window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

from atende.assistant.nlu.entities import scan
from atende.brazil.documents import check_document

__all__ = ["DEFAULT_VERBATIM_KEYS", "PLACEHOLDER", "Redactor"]

#: ``[CPF_1]``, ``[CNPJ_2]``, ``[TELEFONE_1]``, ``[EMAIL_3]``.
PLACEHOLDER = re.compile(r"\[(CPF|CNPJ|TELEFONE|EMAIL)_([1-9][0-9]*)\]")

#: Tool-result fields holding codes the customer must receive exactly as issued. Only e-mail
#: addresses are looked for in them: a numeric tracking code may be 11 or 14 digits long.
DEFAULT_VERBATIM_KEYS = frozenset(
    {
        "linha_digitavel",
        "barcode",
        "codigo_barras",
        "codigo_de_barras",
        "pix_copia_e_cola",
        "tracking_code",
    }
)

_CPF, _CNPJ, _PHONE, _EMAIL = "CPF", "CNPJ", "TELEFONE", "EMAIL"

# Unicode \w on purpose: "joão@exemplo.com.br" must not lose only its ASCII tail.
_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[\w%+-][\w.%+-]{0,63}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[^\W\d_]{2,24}(?![\w-])"
)
_CPF_SHAPE = (
    r"(?:[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}[-.]?[0-9]{2}|[0-9]{3} [0-9]{3} [0-9]{3}[ -][0-9]{2})"
)
_CNPJ_SHAPE = r"[0-9A-Za-z]{2}\.?[0-9A-Za-z]{3}\.?[0-9A-Za-z]{3}/?[0-9A-Za-z]{4}-?[0-9]{2}"
_NUMERIC_CNPJ_SHAPE = r"[0-9]{2}\.?[0-9]{3}\.?[0-9]{3}/?[0-9]{4}-?[0-9]{2}"
# A valid document is personal data wherever it is, even glued to a word ("CPF52998224725"), so
# only digits bound it. An alphanumeric CNPJ is bounded by letters too: otherwise 14-character
# windows of long codes (a PIX copia-e-cola) would validate by chance, one time in a hundred.
_VALID_DOCUMENT_RES = (
    (re.compile(r"(?<![0-9])" + _NUMERIC_CNPJ_SHAPE + r"(?![0-9])"), _CNPJ),
    (re.compile(r"(?<![0-9A-Za-z])" + _CNPJ_SHAPE + r"(?![0-9A-Za-z])"), _CNPJ),
    (re.compile(r"(?<![0-9])" + _CPF_SHAPE + r"(?![0-9])"), _CPF),
)
# Invalid documents are guesses, so they must not continue a longer number ("1.234.567.890-12"),
# and a CNPJ must not continue a word either.
_GUESSED_DOCUMENT_RES = (
    (re.compile(r"(?<![\w.\-/])" + _CNPJ_SHAPE + r"(?![\w]|[.\-/][0-9])"), _CNPJ),
    (re.compile(r"(?<![0-9.\-/])" + _CPF_SHAPE + r"(?![0-9]|[.\-/][0-9])"), _CPF),
)
# Brazilian writings, validated with phonenumbers: its matcher reads "11 2000-0000 00090.11206"
# as one candidate and rejects it whole.
_BR_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+\s?55[\s.-]?|55[\s.-]?)?(?:\(\s?0?[1-9][0-9]\s?\)\s?|0?[1-9][0-9][\s.-]?)"
    r"(?:9\s?)?[0-9]{4}[\s.-]?[0-9]{4}(?![\w]|[.\-/][0-9])"
)
# A mobile number without area code ("98765-4321"): phonenumbers cannot validate it.
_LOCAL_MOBILE_RE = re.compile(r"(?<![\w.\-/])9\s?[0-9]{4}-[0-9]{4}(?![\w]|[.\-/][0-9])")

# Codes that must survive intact; nothing personal may be found inside them.
_CODE_RES = (
    # Linha digitável of a boleto as printed: AAAAA.AAAAA BBBBB.BBBBBB CCCCC.CCCCCC D EEEE...
    # Every separator is required, so that a phone number just before it cannot shift the
    # blocks and be taken as the linha's first digits (bare linhas are runs of 47 digits).
    re.compile(
        r"(?<![0-9.])[0-9]{5}[.\s][0-9]{5}\s+[0-9]{5}[.\s][0-9]{6}\s+[0-9]{5}[.\s][0-9]{6}"
        r"\s+[0-9]\s+[0-9]{14}(?![0-9])"
    ),
    # Utility bills: four blocks of 11 digits and a check digit.
    re.compile(r"(?<![0-9.])[0-9]{11}-?[0-9](?:\s+[0-9]{11}-?[0-9]){3}(?![0-9])"),
    # Barcodes and any other run longer than a CNPJ: no personal datum has 15 bare digits.
    re.compile(r"[0-9]{15,}"),
    # UPU tracking codes (Correios): BR123456789BR.
    re.compile(r"(?<![0-9A-Za-z])[A-Za-z]{2}[0-9]{9}[A-Za-z]{2}(?![0-9A-Za-z])"),
)
_MONEY_RE = re.compile(r"R\$\s?-?[0-9][0-9.]*(?:,[0-9]{1,2})?")
# Shapes that only protect against the guesses (invalid documents, local mobiles).
_SHAPE_RES = (
    _MONEY_RE,
    re.compile(r"(?<![\w/])[0-9]{1,2}/[0-9]{1,2}(?:/[0-9]{2,4})?(?![\w/])"),
    re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9:.+\-Z]{5,})?"),
    re.compile(r"(?<![\w.\-/])[0-9]{2}\.?[0-9]{3}-[0-9]{3}(?![\w])"),
    re.compile(r"(?<![\w.\-/])[A-Za-z]{2,5}(?:-[0-9]{1,6})+(?![\w-])"),
)


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    kind: str
    #: The value to restore when the characters themselves are not a document a tool can read
    #: ("cinco dois nove...", "529,982,247-25"); empty for the characters as typed.
    value: str = ""


def _spans(patterns: Iterable[re.Pattern[str]], text: str) -> list[tuple[int, int]]:
    return [m.span() for pattern in patterns for m in pattern.finditer(text)]


def _overlaps(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end in spans)


def _touches_digits(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` continues a longer number ("1.2345-6789", "12345678-9")."""
    before, after = text[max(0, start - 2) : start], text[end : end + 2]
    return bool(re.search(r"[0-9][.,\-/]?$", before) or re.match(r"[.,\-/]?[0-9]", after))


def _valid_documents(text: str) -> Iterator[_Hit]:
    for pattern, kind in _VALID_DOCUMENT_RES:
        for match in pattern.finditer(text):
            if check_document(match.group()).valid:
                yield _Hit(match.start(), match.end(), kind)


def _guessed_documents(text: str) -> Iterator[_Hit]:
    """Document shapes whose check digits fail: personal data all the same (a typo)."""
    for pattern, kind in _GUESSED_DOCUMENT_RES:
        for match in pattern.finditer(text):
            # Any CPF shape, but only a CNPJ written with its slash: bare 14-digit runs are
            # product and tracking codes far more often than mistyped CNPJs.
            if kind == _CNPJ and "/" not in match.group():
                continue
            # "tel11987654321" escaped the phone matcher only because of the glued word.
            is_phone = kind == _CPF and _is_phone(match.group())
            yield _Hit(match.start(), match.end(), _PHONE if is_phone else kind)


def _loose_documents(text: str) -> Iterator[_Hit]:
    """Documents as the NLU's entity scanner finds them: odd grouping, other separators,
    dictated in words. Its rules, not a copy of them, so that whatever the offline engine would
    read as a CPF or CNPJ never reaches the model either. Valid or not: a typo is still personal
    data."""
    for candidate in scan(text):
        # Bare runs of digits are left to the rules above, which tell a mobile number or a
        # tracking code from a document on purpose; the scanner adds the other writings.
        if candidate.kind not in {"cpf", "cnpj"} or candidate.text.isdigit():
            continue
        digits = candidate.value or _normal_value(candidate.kind.upper(), candidate.text)
        # The tools read documents with check_document: give them the bare characters when the
        # writing is one it cannot read.
        readable = check_document(candidate.text).value == digits
        kind = _CPF if candidate.kind == "cpf" else _CNPJ
        yield _Hit(candidate.start, candidate.end, kind, "" if readable else digits)


def _is_phone(text: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, "BR"))
    except phonenumbers.NumberParseException:
        return False


def _phones(text: str) -> Iterator[_Hit]:
    matcher = phonenumbers.PhoneNumberMatcher(text, "BR", leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        if not _touches_digits(text, match.start, match.end):
            yield _Hit(match.start, match.end, _PHONE)
    for candidate in _BR_PHONE_RE.finditer(text):
        if _is_phone(candidate.group()):
            yield _Hit(candidate.start(), candidate.end(), _PHONE)


def _blank(text: str, hits: Iterable[_Hit]) -> str:
    chars = list(text)
    for hit in hits:
        chars[hit.start : hit.end] = "§" * (hit.end - hit.start)
    return "".join(chars)


def _plain(pattern: re.Pattern[str], text: str, kind: str) -> Iterator[_Hit]:
    return (_Hit(m.start(), m.end(), kind) for m in pattern.finditer(text))


class _Collector:
    """Hits without overlaps; earlier additions win the characters they cover."""

    def __init__(self) -> None:
        self.hits: list[_Hit] = []

    def add(self, hits: Iterable[_Hit], guards: list[tuple[int, int]]) -> None:
        for hit in hits:
            taken = [(h.start, h.end) for h in self.hits]
            if not _overlaps(hit.start, hit.end, taken + guards):
                self.hits.append(hit)


def _detect(text: str, *, verbatim: bool) -> list[_Hit]:
    collector = _Collector()
    collector.add(_plain(_EMAIL_RE, text, _EMAIL), [])
    if not verbatim:
        codes = _spans(_CODE_RES, text)
        shapes = codes + _spans(_SHAPE_RES, text)
        collector.add(_valid_documents(text), codes)
        collector.add(_loose_documents(text), codes)
        # Blanked documents and codes cannot merge with a phone next to them.
        blanked = _blank(text, [*collector.hits, *(_Hit(s, e, "") for s, e in codes)])
        collector.add(_phones(blanked), codes + _spans([_MONEY_RE], text))
        collector.add(_guessed_documents(text), shapes)
        collector.add(_plain(_LOCAL_MOBILE_RE, text, _PHONE), shapes)
    return sorted(collector.hits, key=lambda hit: hit.start)


def _normal_value(kind: str, raw: str) -> str:
    """The identity of a value whatever its writing, so each gets one placeholder."""
    if kind == _EMAIL:
        return raw.casefold()
    if kind == _CNPJ:
        return re.sub(r"[^0-9A-Za-z]", "", raw).upper()
    if kind == _PHONE:
        try:
            number = phonenumbers.parse(raw, "BR")
        except phonenumbers.NumberParseException:
            return re.sub(r"[^0-9]", "", raw)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return re.sub(r"[^0-9]", "", raw)


class Redactor:
    """Swaps personal data for placeholders and back, for one conversation turn.

    A placeholder stands for one value whatever its writing (``529.982.247-25`` and
    ``52998224725`` are both ``[CPF_1]``); :meth:`restore` writes the value as it was first seen.
    """

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._placeholders: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        self._unresolved: list[str] = []

    @classmethod
    def from_state(cls, state: Mapping[str, str]) -> Redactor:
        """A redactor that keeps the placeholders of earlier turns (see :meth:`state`)."""
        redactor = cls()
        for placeholder, value in state.items():
            match = PLACEHOLDER.fullmatch(placeholder)
            if match is None or not isinstance(value, str):
                raise ValueError(f"not a placeholder state entry: {placeholder!r}")
            redactor._remember(match.group(1), int(match.group(2)), value)
        return redactor

    def state(self) -> dict[str, str]:
        """Placeholder → original value, JSON-serialisable, for :meth:`from_state`."""
        return dict(self._values)

    @property
    def unresolved(self) -> tuple[str, ...]:
        """Placeholders :meth:`restore` met but never issued: the model made them up."""
        return tuple(self._unresolved)

    def redact(self, text: str) -> str:
        """``text`` with every CPF, CNPJ, phone number and e-mail address replaced."""
        return self._redact(text, verbatim=False)

    def redact_json(
        self, value: Any, *, verbatim_keys: frozenset[str] = DEFAULT_VERBATIM_KEYS
    ) -> Any:
        """:meth:`redact` over JSON-like data: strings, and integers long enough to be a phone
        or a document (those come back as strings). Keys are kept: they are schema names. In
        fields named in ``verbatim_keys`` only e-mail addresses are replaced."""
        if isinstance(value, dict):
            return {
                key: (
                    self._redact(item, verbatim=True)
                    if key in verbatim_keys and isinstance(item, str)
                    else self.redact_json(item, verbatim_keys=verbatim_keys)
                )
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.redact_json(item, verbatim_keys=verbatim_keys) for item in value]
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**7:
            redacted = self.redact(str(value))
            return value if redacted == str(value) else redacted
        return value

    def restore(self, text: str) -> str:
        """``text`` with the placeholders this redactor issued replaced by their values.

        Unknown placeholders stay as written and are added to :attr:`unresolved`.
        """
        return PLACEHOLDER.sub(self._restore_one, text)

    def restore_json(self, value: Any) -> Any:
        """:meth:`restore` over the strings of JSON-like data (e.g. tool-call arguments)."""
        if isinstance(value, dict):
            return {key: self.restore_json(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.restore_json(item) for item in value]
        if isinstance(value, str):
            return self.restore(value)
        return value

    def _redact(self, text: str, *, verbatim: bool) -> str:
        # A dictated document has no digit ("meu cpf é cinco dois nove..."): only the
        # verbatim fields, where e-mails alone are looked for, can be skipped this cheaply.
        if verbatim and "@" not in text:
            return text
        pieces: list[str] = []
        position = 0
        for hit in _detect(text, verbatim=verbatim):
            pieces.append(text[position : hit.start])
            pieces.append(self._placeholder(hit.kind, hit.value or text[hit.start : hit.end]))
            position = hit.end
        pieces.append(text[position:])
        return "".join(pieces)

    def _placeholder(self, kind: str, raw: str) -> str:
        existing = self._placeholders.get((kind, _normal_value(kind, raw)))
        if existing is not None:
            return existing
        return self._remember(kind, self._counts.get(kind, 0) + 1, raw)

    def _remember(self, kind: str, number: int, raw: str) -> str:
        placeholder = f"[{kind}_{number}]"
        self._values[placeholder] = raw
        self._placeholders.setdefault((kind, _normal_value(kind, raw)), placeholder)
        self._counts[kind] = max(self._counts.get(kind, 0), number)
        return placeholder

    def _restore_one(self, match: re.Match[str]) -> str:
        placeholder = match.group(0)
        value = self._values.get(placeholder)
        if value is None:
            if placeholder not in self._unresolved:
                self._unresolved.append(placeholder)
            return placeholder
        return value
