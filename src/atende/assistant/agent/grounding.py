"""The grounding check: what the customer reads about money, dates, codes and stock must come
from this turn's tool results.

A language model paraphrases well and copies numbers badly. One cent off in a boleto, a due date
a day late, one digit changed in a linha digitável (the bank rejects it, or worse, it pays
someone else's boleto), an invented tracking code or stock count: each costs the customer money
or a broken promise, and none of them reads as wrong. So before a model-written reply is sent,
:func:`check_grounding` extracts the facts of those kinds from it and looks each one up in the
structured tool results of the same turn, or in what the customer wrote (a customer who asks for
"3 unidades" may be told "3 unidades"). Everything else in the reply is prose and is not checked:
"1 boleto", "2 pedidos" and list numbering are not facts here.

The extraction is rules, like :mod:`atende.assistant.nlu.entities`, because the comparison must
be exact: amounts in cents, dates by calendar day, codes digit by digit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from atende.assistant.nlu.entities import extract
from atende.brazil.boleto import InvalidBoleto, parse_barcode, parse_linha_digitavel

__all__ = ["Fact", "FactKind", "GroundingReport", "check_grounding", "facts_in"]


class FactKind(StrEnum):
    money = "money"
    date = "date"
    linha_digitavel = "linha_digitavel"
    barcode = "barcode"
    tracking_code = "tracking_code"
    quantity = "quantity"


@dataclass(frozen=True)
class Fact:
    """A checkable statement in a text.

    ``value`` is normalised: cents for money ("123456"), ``YYYY-MM-DD`` for a date, or
    ``--MM-DD`` when written without a year; the digits of a linha digitável or barcode; the
    uppercase tracking code; the integer of a quantity.
    """

    kind: FactKind
    text: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class GroundingReport:
    facts: list[Fact]
    ungrounded: list[Fact]

    @property
    def ok(self) -> bool:
        return not self.ungrounded


# --- extraction -------------------------------------------------------------------------------

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'*]+", re.IGNORECASE)
# Groups of digits joined by dots or single spaces: a linha digitável however it was spaced. A
# model that drops or adds a digit still produces a code-length run, which then matches nothing.
_DIGIT_RUN = re.compile(r"(?<![\d.,])\d+(?:[. \u00a0]\d+)*(?![\d,])")
_MIN_CODE_DIGITS = 30
_ANY_DIGIT = re.compile(r"\d")
_BARCODE_DIGITS = 44
_UPU_CODE = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]{2}\d{9}[A-Za-z]{2}(?![0-9A-Za-z])")
_TRACKING_LEAD = re.compile(
    r"(?:rastreio|rastreamento|tracking|c[oó]digo\s+do\s+objeto)"
    r"(?:\s*\([^()\n]{1,40}\))?(?:\s*(?:[:\-\u2013]|é|e))?\s*[*_`\"']*"
    r"(?P<code>[A-Za-z0-9][A-Za-z0-9-]{5,39})(?![\w-])",
    re.IGNORECASE,
)
_AMOUNT = r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?|\d+(?:[,.]\d{1,2})?"
_MONEY = re.compile(
    rf"R\$\s?-?\s?(?P<amount>{_AMOUNT})(?![\d])"
    rf"|(?<![\w.,])(?P<spelled>{_AMOUNT})\s*(?:reais|real)\b",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(
    r"(?<![\d/.,])(?P<day>\d{1,2})/(?P<month>\d{1,2})(?:/(?P<year>\d{4}|\d{2}))?(?![\d/]|[.,]\d)"
)
_ISO_DATE = re.compile(r"(?<![\d-])(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})(?!\d)")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("janeiro",),
            ("fevereiro",),
            ("março", "marco"),
            ("abril",),
            ("maio",),
            ("junho",),
            ("julho",),
            ("agosto",),
            ("setembro",),
            ("outubro",),
            ("novembro",),
            ("dezembro",),
        ),
        start=1,
    )
    for name in names
}
_WORD_DATE = re.compile(
    r"(?<!\d)(?P<day>\d{1,2})(?:º|°|o)?\s+de\s+(?P<month>" + "|".join(_MONTHS) + r")\b"
    r"(?:\s+de\s+(?P<year>\d{4}))?",
    re.IGNORECASE,
)
_NUMBER = r"(?<![\w.,/$-])(?P<n>\d{1,6})"
_UNIT = (
    r"(?:unidades?|unid\.?|und\.?|un\.?|pe[cç]as?|p[cç]s?\.?|caixas?|cx\.?|pares?|kits?|"
    r"pacotes?|itens|item)"
)
_QUANTITIES = (
    re.compile(_NUMBER + r"\s*" + _UNIT + r"(?!\w)", re.IGNORECASE),
    re.compile(
        _NUMBER + r"\s+(?:[^\W\d]+\s+){0,2}?(?:em\s+estoque|dispon[ií]ve(?:l|is))\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\bestoque\b\s*(?::|de|é\s+de|atual\s*(?:de|é|:)?|com)?\s*(?P<n>\d{1,6})(?![\w]|[.,]\d)",
        re.IGNORECASE,
    ),
)


class _Found:
    """Facts found so far; a later rule never takes characters an earlier one has taken."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.facts: list[Fact] = []
        self._taken: list[tuple[int, int]] = []

    def block(self, start: int, end: int) -> None:
        self._taken.append((start, end))

    def add(self, kind: FactKind, start: int, end: int, value: str) -> None:
        if all(end <= s or e <= start for s, e in self._taken):
            self._taken.append((start, end))
            self.facts.append(Fact(kind, self.text[start:end], value, start, end))


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _scan_codes(found: _Found) -> None:
    for match in _DIGIT_RUN.finditer(found.text):
        digits = _digits(match.group())
        if len(digits) >= _MIN_CODE_DIGITS:
            kind = FactKind.barcode if len(digits) == _BARCODE_DIGITS else FactKind.linha_digitavel
            found.add(kind, match.start(), match.end(), digits)


def _scan_tracking(found: _Found, known: Iterable[str]) -> None:
    for match in _UPU_CODE.finditer(found.text):
        found.add(FactKind.tracking_code, match.start(), match.end(), match.group().upper())
    for code in known:
        pattern = r"(?<![0-9A-Za-z])" + re.escape(code) + r"(?![0-9A-Za-z])"
        for match in re.finditer(pattern, found.text, re.IGNORECASE):
            found.add(FactKind.tracking_code, match.start(), match.end(), code)
    for match in _TRACKING_LEAD.finditer(found.text):
        code = match.group("code")
        if any(char.isdigit() for char in code):
            found.add(FactKind.tracking_code, match.start("code"), match.end("code"), code.upper())


def _cents(amount: str) -> int:
    """``1.234,56`` → 123456; ``89.90`` (a decimal point) → 8990; ``1.234`` → 123400."""
    if "," in amount:
        reais, fraction = amount.split(",")
    elif re.fullmatch(r"\d+\.\d{1,2}", amount):
        reais, fraction = amount.split(".")
    else:
        reais, fraction = amount, ""
    return int(reais.replace(".", "")) * 100 + int(fraction.ljust(2, "0") or "0")


def _scan_money(found: _Found) -> None:
    for match in _MONEY.finditer(found.text):
        amount = match.group("amount") or match.group("spelled")
        found.add(FactKind.money, match.start(), match.end(), str(_cents(amount)))


def _date_value(day: int, month: int, year: int | None) -> str | None:
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return None
    # An impossible day ("31/02/2026") is still a date the reply states, and grounds on nothing.
    return f"--{month:02d}-{day:02d}" if year is None else f"{year:04d}-{month:02d}-{day:02d}"


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    return 2000 + int(text) if len(text) == 2 else int(text)


def _scan_dates(found: _Found) -> None:
    for match in _ISO_DATE.finditer(found.text):
        value = _date_value(int(match["day"]), int(match["month"]), int(match["year"]))
        if value:
            found.add(FactKind.date, match.start(), match.end(), value)
    for match in _NUMERIC_DATE.finditer(found.text):
        # Without a year only a two-digit month makes a date: "1/2" is a fraction, "24/7" a slogan.
        if match["year"] is None and len(match["month"]) < 2:
            continue
        value = _date_value(int(match["day"]), int(match["month"]), _year(match["year"]))
        if value:
            found.add(FactKind.date, match.start(), match.end(), value)
    for match in _WORD_DATE.finditer(found.text):
        month = _MONTHS[match["month"].lower()]
        value = _date_value(int(match["day"]), month, _year(match["year"]))
        if value:
            found.add(FactKind.date, match.start(), match.end(), value)


def _scan_quantities(found: _Found) -> None:
    for pattern in _QUANTITIES:
        for match in pattern.finditer(found.text):
            found.add(FactKind.quantity, match.start(), match.end(), str(int(match["n"])))


def _extract(text: str, known_codes: Iterable[str] = ()) -> list[Fact]:
    found = _Found(text)
    for match in _URL.finditer(text):
        # Digits in a link are not amounts, dates or codes the customer reads as such.
        found.block(match.start(), match.end())
    _scan_codes(found)
    _scan_tracking(found, known_codes)
    _scan_money(found)
    _scan_dates(found)
    _scan_quantities(found)
    return sorted(found.facts, key=lambda fact: fact.start)


def facts_in(text: str) -> list[Fact]:
    """The money, dates, linhas digitáveis, barcodes, tracking codes and stock quantities that
    ``text`` states, in order of position."""
    return _extract(text)


# --- evidence ---------------------------------------------------------------------------------

_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{5,39}")
_TOKEN = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]*")
_ISO_PREFIX = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?![\d])")
_COUNT = re.compile(r"(?<![\w.,])(\d{1,6})\s?x\b", re.IGNORECASE)
_INTEGER = re.compile(r"(?<![\d.,])\d{1,6}(?![\d]|[.,]\d)")


@dataclass
class _Evidence:
    """Every value the reply may state, from the tool results and the customer's message."""

    cents: set[int] = field(default_factory=set)
    dates: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    tracking: set[str] = field(default_factory=set)
    integers: set[int] = field(default_factory=set)

    def supports(self, fact: Fact) -> bool:
        if fact.kind is FactKind.money:
            return int(fact.value) in self.cents
        if fact.kind is FactKind.date:
            return fact.value in self.dates
        if fact.kind in {FactKind.linha_digitavel, FactKind.barcode}:
            return fact.value in self.codes
        if fact.kind is FactKind.tracking_code:
            return fact.value in self.tokens
        return int(fact.value) in self.integers

    def add_code(self, digits: str) -> None:
        self.codes.add(digits)
        # The same boleto may be quoted as its barcode or its linha digitável.
        try:
            if len(digits) == _BARCODE_DIGITS:
                self.codes.add(parse_barcode(digits).linha_digitavel)
            else:
                self.codes.add(parse_linha_digitavel(digits).barcode)
        except InvalidBoleto:
            pass

    def add_text(self, text: str) -> None:
        """Facts stated in free text: a tool's message, an order line, the customer's words."""
        for fact in facts_in(text):
            self.add_fact(fact)
        self.tokens.update(token.upper() for token in _TOKEN.findall(text))
        self.integers.update(int(n) for n in _COUNT.findall(text))

    def add_fact(self, fact: Fact) -> None:
        if fact.kind is FactKind.money:
            self.cents.add(int(fact.value))
        elif fact.kind is FactKind.date:
            self.add_date(fact.value)
        elif fact.kind in {FactKind.linha_digitavel, FactKind.barcode}:
            self.add_code(fact.value)
        elif fact.kind is FactKind.tracking_code:
            self.tokens.add(fact.value)
        else:
            self.integers.add(int(fact.value))

    def add_date(self, value: str) -> None:
        """``YYYY-MM-DD`` also grounds the same day written without a year."""
        self.dates.add(value)
        if not value.startswith("--"):
            self.dates.add("--" + value[5:])


def _is_cents_key(key: str | None) -> bool:
    return key is not None and (key == "cents" or key.endswith("_cents"))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list_totals(items: list[Any], key: str | None) -> Iterator[int]:
    """Totals a reply may state for a list: the sum of each ``*_cents`` field over its items."""
    if _is_cents_key(key) and len(items) > 1 and all(_is_int(item) for item in items):
        yield sum(items)
    dicts = [item for item in items if isinstance(item, dict)]
    keys = {k for item in dicts for k, v in item.items() if _is_cents_key(k) and _is_int(v)}
    for cents_key in keys:
        amounts = [item[cents_key] for item in dicts if _is_int(item.get(cents_key))]
        if len(amounts) > 1:
            yield sum(amounts)


def _collect(value: Any, key: str | None, evidence: _Evidence) -> None:
    if isinstance(value, BaseModel):
        _collect(value.model_dump(mode="json"), key, evidence)
    elif isinstance(value, dict):
        for child_key, child in value.items():
            _collect(child, str(child_key), evidence)
    elif isinstance(value, list | tuple):
        evidence.integers.add(len(value))
        evidence.cents.update(_list_totals(list(value), key))
        for child in value:
            _collect(child, key, evidence)
    elif _is_int(value):
        (evidence.cents if _is_cents_key(key) else evidence.integers).add(value)
    elif isinstance(value, date):
        evidence.add_date((value.date() if isinstance(value, datetime) else value).isoformat())
    elif isinstance(value, str):
        _collect_string(value, key, evidence)


def _collect_string(value: str, key: str | None, evidence: _Evidence) -> None:
    iso = _ISO_PREFIX.match(value)
    if iso:
        evidence.add_date("-".join(iso.groups()))
    if value.isdigit() and len(value) <= 6:
        (evidence.cents if _is_cents_key(key) else evidence.integers).add(int(value))
    if key is not None and "tracking" in key and _CODE.fullmatch(value):
        evidence.tracking.add(value.upper())
    evidence.add_text(value)


def _from_customer(text: str, evidence: _Evidence) -> None:
    evidence.add_text(text)
    evidence.integers.update(int(n) for n in _INTEGER.findall(text))
    for entity in extract(text).entities:
        if entity.type == "quantity":
            evidence.integers.add(int(entity.value))


def check_grounding(
    reply: str, tool_results: Sequence[Any], *, user_text: str = ""
) -> GroundingReport:
    """Check that every money amount, date, linha digitável, barcode, tracking code and stock
    quantity in ``reply`` appears in ``tool_results`` or in ``user_text``.

    ``tool_results`` are JSON-like (``model_dump(mode="json")`` of the tool outputs; Pydantic
    models are dumped here): integers under ``*_cents`` keys are amounts, other integers and
    list lengths are quantities, ISO strings are dates, and the free text of any string is read
    for the same facts. An amount may also be the sum of one ``*_cents`` field over a list.
    """
    if _ANY_DIGIT.search(reply) is None:
        # Every fact has a digit (a tracking code the tools returned may not, but they support
        # it by definition): nothing to check, and collecting the evidence was most of the
        # check's cost on chit-chat.
        return GroundingReport(facts=[], ungrounded=[])
    evidence = _Evidence()
    for result in tool_results:
        _collect(result, None, evidence)
    _from_customer(user_text, evidence)
    facts = _extract(reply, sorted(evidence.tracking, key=len, reverse=True))
    return GroundingReport(facts=facts, ungrounded=[f for f in facts if not evidence.supports(f)])
