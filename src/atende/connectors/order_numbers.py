"""Whether an order number, as a customer writes it, names a given order.

Customers copy an order's number from wherever they saw it: the bot's own message (``PED-5001``),
the store's e-mail (``#5001``, ``pedido nº 5001``) or memory (``5001``, ``ped5001``), and ERPs
print their numbers with a prefix or without (Nuvemshop shows ``#5001`` for an order whose id is
``1870005001``). Every adapter's :meth:`~atende.connectors.port.ErpConnector.get_order` applies
this one rule, so the same words find the same order whichever system is behind.

The rule: letters and digits equal, ignoring case, spaces and punctuation; or the digit groups
written are the last digit groups of the order's number (compared as numbers, so ``0001`` is
``1``) and the letter prefixes do not contradict each other (either is absent, or they are equal).
``PED-5001``, ``ped5001``, ``5001`` and ``#5001`` all name ``PED-5001``; ``0001`` names
``PED-2026-0001`` but ``2025-0001`` does not; ``OV-5001`` does not name ``PED-5001``. Only the
customer's own orders are ever compared, so a short number cannot reach someone else's order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from unidecode import unidecode

__all__ = ["OrderNumber", "names_order", "parse_order_number"]

# What people put in front of a number: "#", "nº", "n°", "no.", "numero", "pedido" (not "PED":
# that is a prefix some ERPs print, and it must not be lost).
_MARKS = re.compile(r"^(?:pedido\b|numero\b|num\b|n[o.]?\b|#|\s|[.:-])+", re.IGNORECASE)
_GROUPS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class OrderNumber:
    #: Letters before the first digit, uppercase ("PED"); empty when there are none.
    prefix: str
    #: Every run of digits, as numbers (``PED-2026-0001`` → ``(2026, 1)``).
    groups: tuple[int, ...]
    #: Letters and digits only, uppercase.
    compact: str


def parse_order_number(text: str) -> OrderNumber | None:
    """The parts of an order number; None when ``text`` has no letter or digit at all."""
    # unidecode reads "°" as "deg": the ordinal marks go first.
    folded = unidecode(re.sub("[°º]", " ", text)).strip()
    # "nº" folds to "no": drop it and the other marks only when a digit follows, so that an id
    # made of letters is kept whole.
    bare = _MARKS.sub("", folded) if re.search(r"\d", folded) else folded
    compact = re.sub(r"[^0-9A-Za-z]", "", bare).upper()
    if not compact:
        return None
    first_digit = next((i for i, char in enumerate(compact) if char.isdigit()), len(compact))
    return OrderNumber(
        prefix=compact[:first_digit],
        groups=tuple(int(group) for group in _GROUPS.findall(bare)),
        compact=compact,
    )


def names_order(written: str, *known_as: str) -> bool:
    """Whether ``written`` (as a customer wrote it) names the order known as any of ``known_as``
    (its id, its number as the store shows it)."""
    wanted = parse_order_number(written)
    if wanted is None:
        return False
    for name in known_as:
        order = parse_order_number(name)
        if order is None:
            continue
        if wanted.compact == order.compact:
            return True
        prefixes_agree = not wanted.prefix or not order.prefix or wanted.prefix == order.prefix
        if (
            prefixes_agree
            and wanted.groups
            and len(wanted.groups) <= len(order.groups)
            and order.groups[-len(wanted.groups) :] == wanted.groups
        ):
            return True
    return False
