"""Which item of a list the customer means: "o primeiro", "o 2", "a segunda", "o de 189,35",
"o que venceu", "o de março", "o mais antigo", "o último", "o da caneca".

One function, :func:`choose`, taking the options offered, the customer's text and the ids of any
list replies, so that every numbered list the assistant shows (boletos, products of an order) is
answered the same way, by the offline engine and by the fake model's stand-in alike. What
the text says is read as conditions that must all hold (an ordinal, an amount, a date, a month,
overdue or not, the id, words of the name, a superlative); the options that meet them all are the
answer. Nothing said about the list at all is :attr:`ChoiceStatus.none`, so the caller can treat
the text as a new request instead.

Hand-written rules rather than a library: the vocabulary is a few dozen pt-BR words, and the
values must be exact (an amount either is the boleto's or is not).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from unidecode import unidecode

from atende.assistant.nlu.entities import SMALL_NUMBER_WORDS

__all__ = ["Choice", "ChoiceStatus", "Option", "choose"]


@dataclass(frozen=True, slots=True)
class Option:
    """One item of a numbered list, with what a customer may call it by."""

    id: str
    amount_cents: int | None = None
    #: The date that tells the items apart (a boleto's due date).
    day: date | None = None
    overdue: bool | None = None
    #: Words a customer may name it by (a product's name).
    name: str = ""

    def to_memory(self) -> dict[str, Any]:
        """JSON-safe, for the session memory."""
        return {
            "id": self.id,
            "amount_cents": self.amount_cents,
            "day": self.day.isoformat() if self.day else None,
            "overdue": self.overdue,
            "name": self.name,
        }

    @classmethod
    def from_memory(cls, raw: object) -> Option:
        """From :meth:`to_memory`, or from a bare id (memory written before options carried
        more than their id)."""
        if not isinstance(raw, Mapping):
            return cls(id=str(raw))
        day = raw.get("day")
        amount = raw.get("amount_cents")
        overdue = raw.get("overdue")
        return cls(
            id=str(raw.get("id")),
            amount_cents=int(amount) if amount is not None else None,
            day=date.fromisoformat(str(day)) if day else None,
            overdue=bool(overdue) if overdue is not None else None,
            name=str(raw.get("name") or ""),
        )


class ChoiceStatus(StrEnum):
    #: Exactly one option fits.
    chosen = "chosen"
    #: Several options fit what was said ("o de 184,85" when two boletos have that amount).
    ambiguous = "ambiguous"
    #: The text points into the list, but no option fits ("o 7" of three).
    unmatched = "unmatched"
    #: The text says nothing about the list: probably a new request.
    none = "none"
    #: Every option: "os dois", "ambos", "todos".
    every = "every"


@dataclass(frozen=True, slots=True)
class Choice:
    status: ChoiceStatus
    #: The options that fit: one when chosen, two or more when ambiguous, all of them for
    #: every, else none.
    candidates: tuple[Option, ...] = ()

    @property
    def chosen(self) -> Option | None:
        return self.candidates[0] if self.status is ChoiceStatus.chosen else None


Condition = Callable[[int, Option], bool]

_ORDINALS = {
    "primeir": 1,
    "segund": 2,
    "terceir": 3,
    "quart": 4,
    "quint": 5,
    "sext": 6,
    "setim": 7,
    "oitav": 8,
    "non": 9,
    "decim": 10,
}
_CARDINALS = SMALL_NUMBER_WORDS
_MONTHS = {
    "janeiro": 1,
    "fevereiro": 2,
    "marco": 3,
    "abril": 4,
    "maio": 5,
    "junho": 6,
    "julho": 7,
    "agosto": 8,
    "setembro": 9,
    "outubro": 10,
    "novembro": 11,
    "dezembro": 12,
}
# "segunda via", "2a via", "segunda-feira" and "primeira vez" name no item of a list.
_NOT_AN_ITEM = r"(?!\s*-?\s*(?:via|feira|vez)\b)"
# Not "um segundo" (a moment).
_ORDINAL = re.compile(r"(?<!um )\b(?P<stem>" + "|".join(_ORDINALS) + r")(?:o|a)\b" + _NOT_AN_ITEM)
_LAST = re.compile(r"\b(?P<pen>pen)?ultim[oa]\b")
# A number standing alone ("2", "o 2", "2º", "nº 2", "opção 2"), not part of a date, an amount,
# a document or a code.
_POSITION = re.compile(
    r"(?P<de>\bde\s+)?(?<![\w.,/$-])(?P<n>\d{1,5})\s?(?:o|a)?(?![\w.,/%-])" + _NOT_AN_ITEM
)
_CARDINAL = re.compile(
    r"(?:^|\b(?:o|a|opcao|numero|n|item|boleto|produto)\s+)(?P<word>"
    + "|".join(_CARDINALS)
    + r")\s*[.!?]*\s*$"
)
_MONEY = re.compile(
    r"(?:r\$\s*(?P<r>\d{1,3}(?:\.\d{3})+|\d+)(?:[,.](?P<rc>\d{2}))?)"
    r"|(?:(?<![\w.,/-])(?P<d>\d{1,3}(?:\.\d{3})+|\d+),(?P<dc>\d{2})(?![\d/]))"
    r"|(?:(?<![\w.,/-])(?P<p>\d+)\.(?P<pc>\d{2})(?![\d./]))"
    r"|(?:(?<![\w.,/-])(?P<w>\d+)\s*(?:reais|real|conto|pila)\b)"
)
_DATE = re.compile(r"(?<![\w/])(?P<day>\d{1,2})/(?P<month>\d{1,2})(?:/(?P<year>\d{2,4}))?(?![\w/])")
_DAY = re.compile(r"\bdia\s+(?P<day>\d{1,2})\b(?!\s*/)")
_MONTH = re.compile(r"\b(?P<month>" + "|".join(_MONTHS) + r")\b")
_NOT_DUE = re.compile(
    r"\b(?:nao\s+(?:venceu|vencid[oa]|esta\s+vencid[oa]|atrasad[oa])|a\s+vencer|vai\s+vencer|"
    r"ainda\s+vai|que\s+vence\b|vencendo|em\s+dia|proxim[oa]\s+a\s+vencer|do\s+mes\s+que\s+vem)"
)
_DUE = re.compile(r"\b(?:venceu|vencid[oa]|atrasad[oa]|em\s+atraso|que\s+passou|atrasou)\b")
_EVERY = re.compile(r"\b(?:(?:os|as)\s+(?:dois|duas|2|tres|3)|ambos|ambas|todos|todas)\b")
_OLDEST = re.compile(r"\bmais\s+(?:antig[oa]|velh[oa])\b")
_NEWEST = re.compile(r"\bmais\s+(?:recente|nov[oa])\b")
_DEAREST = re.compile(r"\b(?:mais\s+car[oa]|maior(?:\s+valor)?)\b")
_CHEAPEST = re.compile(r"\b(?:mais\s+barat[oa]|menor(?:\s+valor)?)\b")
# Words that say nothing about which item: left over once the conditions are read.
_FILLER = frozenset(
    "o a os as um uma de do da dos das esse essa este esta aquele aquela isso quero queria pode "
    "ser me manda mande envia envie por favor pfv pf pls e que eh e ai sim opcao numero n no na "
    "item boleto boletos produto produtos pra para com o la aqui ok ta bom beleza desse dessa "
    "deste desta vence valor pagar pago quero esse".split()
)


def _fold(text: str) -> str:
    return unidecode(text).lower()


def _amount_cents(match: re.Match[str]) -> tuple[int, bool]:
    """The amount a money match names, and whether its centavos were given."""
    for whole, cents in (("r", "rc"), ("d", "dc"), ("p", "pc"), ("w", None)):
        if match.group(whole):
            reais = int(match.group(whole).replace(".", ""))
            given = match.group(cents) if cents else None
            return reais * 100 + int(given or 0), given is not None
    raise AssertionError("a money match names an amount")  # pragma: no cover


def _name_words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", _fold(text))
    return {w.rstrip("s") for w in words if len(w) >= 3 and w not in _FILLER}


def choose(options: Sequence[Option], text: str, replies: Iterable[object | None] = ()) -> Choice:
    """The option(s) of ``options`` (in the order they were shown, numbered from 1) that
    ``text`` points at. The id a WhatsApp list or button reply carries (``replies``), or an id
    written in the text ("TIT-1002", "CAM-001"), picks that option at once."""
    if not options:
        return Choice(ChoiceStatus.none)
    for reply in replies:
        picked = next((option for option in options if option.id == reply), None)
        if picked is not None:
            return Choice(ChoiceStatus.chosen, (picked,))
    upper = text.upper()
    by_id = [option for option in options if option.id and option.id.upper() in upper]
    if len(by_id) == 1:
        return Choice(ChoiceStatus.chosen, (by_id[0],))
    folded = _fold(text).strip()
    every = _EVERY.search(folded)
    if every is not None and len(options) > 1 and not _name_words(_EVERY.sub(" ", folded)):
        return Choice(ChoiceStatus.every, tuple(options))
    reading = _Reading(folded, len(options))
    conditions, pickers = reading.conditions, reading.pickers
    said = _name_words(reading.rest)
    if said and any(option.name for option in options):
        scores = [len(said & _name_words(option.name)) for option in options]
        if max(scores):
            conditions.append(_best_named(scores))
    if not conditions and not pickers:
        return Choice(ChoiceStatus.none)
    fitting = [(i, o) for i, o in enumerate(options, 1) if all(c(i, o) for c in conditions)]
    for pick in pickers:
        fitting = pick(fitting)
    if not fitting:
        return Choice(ChoiceStatus.unmatched)
    status = ChoiceStatus.chosen if len(fitting) == 1 else ChoiceStatus.ambiguous
    return Choice(status, tuple(option for _, option in fitting))


Picker = Callable[[list[tuple[int, Option]]], list[tuple[int, Option]]]


class _Reading:
    """The conditions a text sets; each piece of text read is blanked out of :attr:`rest`, so
    that "184,85" is an amount and not also the item 85."""

    def __init__(self, folded: str, count: int) -> None:
        self.rest = folded
        self.conditions: list[Condition] = []
        self.pickers: list[Picker] = []
        for match in self._each(_MONEY):
            self.conditions.append(_amount(*_amount_cents(match)))
        for match in self._each(_DATE):
            self.conditions.append(_on(int(match.group("day")), int(match.group("month"))))
        for match in self._each(_DAY):
            self.conditions.append(_on(int(match.group("day")), None))
        for match in self._each(_MONTH):
            self.conditions.append(_on(None, _MONTHS[match.group("month")]))
        due = self._first(_NOT_DUE)
        if due is not None or self._first(_DUE) is not None:
            self.conditions.append(_overdue(due is None))
        for pattern, key, highest in (
            (_OLDEST, _day_of, False),
            (_NEWEST, _day_of, True),
            (_DEAREST, _amount_of, True),
            (_CHEAPEST, _amount_of, False),
        ):
            if self._first(pattern) is not None:
                self.pickers.append(_extreme(key, highest=highest))
        for match in self._each(_LAST):
            self.conditions.append(_at(count - 1 if match.group("pen") else count))
        for match in self._each(_ORDINAL):
            self.conditions.append(_at(_ORDINALS[match.group("stem")]))
        for match in self._each(_POSITION):
            number = int(match.group("n"))
            if number > count and match.group("de"):
                # "o de 184": an amount in whole reais, not the 184th item.
                self.conditions.append(_amount(number * 100, False))
            else:
                self.conditions.append(_at(number))
        for match in self._each(_CARDINAL):
            self.conditions.append(_at(_CARDINALS[match.group("word")]))

    def _each(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        matches = list(pattern.finditer(self.rest))
        for match in matches:
            start, end = match.span()
            self.rest = self.rest[:start] + " " * (end - start) + self.rest[end:]
        return matches

    def _first(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        matches = self._each(pattern)
        return matches[0] if matches else None


def _at(position: int) -> Condition:
    return lambda index, _option: index == position


def _amount(cents: int, exact: bool) -> Condition:
    def fits(_index: int, option: Option) -> bool:
        if option.amount_cents is None:
            return False
        if exact:
            return option.amount_cents == cents
        return option.amount_cents // 100 == cents // 100

    return fits


def _on(day: int | None, month: int | None) -> Condition:
    def fits(_index: int, option: Option) -> bool:
        if option.day is None:
            return False
        return (day is None or option.day.day == day) and (
            month is None or option.day.month == month
        )

    return fits


def _overdue(overdue: bool) -> Condition:
    return lambda _index, option: option.overdue is overdue


def _best_named(scores: list[int]) -> Condition:
    best = max(scores)
    return lambda index, _option: scores[index - 1] == best


def _day_of(option: Option) -> Any:
    return option.day


def _amount_of(option: Option) -> Any:
    return option.amount_cents


def _extreme(key: Callable[[Option], Any], *, highest: bool) -> Picker:
    """Keep the options with the highest (or lowest) ``key``: all of them on a tie."""

    def pick(fitting: list[tuple[int, Option]]) -> list[tuple[int, Option]]:
        keyed = [(key(option), i, option) for i, option in fitting if key(option) is not None]
        if not keyed:
            return []
        values = [k for k, _, _ in keyed]
        best = max(values) if highest else min(values)
        return [(i, option) for k, i, option in keyed if k == best]

    return pick
