"""Splitting long text into messages a channel accepts, without breaking words or glyphs."""

from __future__ import annotations

import unicodedata

#: WhatsApp's limit for one text message (other channels have larger ones).
MAX_TEXT = 4096

# Separators tried in order when a text must be split: a paragraph, a line, a word.
_SEPARATORS = ("\n\n", "\n", " ")
_ZWJ = "\u200d"


# ---------------------------------------------------------------------------------------------


def split_text(body: str, limit: int = MAX_TEXT) -> list[str]:
    """Split ``body`` into parts of at most ``limit`` characters, for consecutive messages.

    Cuts at the last paragraph break that fits, else the last line break, else the last space;
    a word is only cut when it alone is longer than ``limit``. Whitespace around a cut is
    dropped and no part is empty or blank. A text within the limit comes back unchanged as the
    only part; a text with nothing but whitespace gives no parts at all.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    if not body.strip():
        return []
    if len(body) <= limit:
        return [body]
    parts: list[str] = []
    rest = body.strip()
    while len(rest) > limit:
        cut, skip = _cut_point(rest, limit)
        part = rest[:cut].rstrip()
        if part:
            parts.append(part)
        rest = rest[cut + skip :].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _cut_point(text: str, limit: int) -> tuple[int, int]:
    """Where to cut ``text`` (longer than ``limit``): (end of the part, separator length)."""
    for sep in _SEPARATORS:
        # The part before the separator must fit; the separator itself may overhang the limit.
        # Searching from 1 keeps the part non-empty (``text`` never starts with whitespace).
        at = text.rfind(sep, 1, limit + len(sep))
        if at > 0:
            return at, len(sep)
    return hard_cut(text, limit), 0


def hard_cut(text: str, limit: int) -> int:
    """Cut a word longer than the limit without breaking a visible character apart.

    Combining accents (a decomposed "é"), emoji modifiers and zero-width joiners belong to the
    character before them; cutting there would show a broken glyph on both sides.
    """
    cut = limit
    while cut > 1 and (_clings_to_previous(text[cut]) or text[cut - 1] == _ZWJ):
        cut -= 1
    return cut


def _clings_to_previous(char: str) -> bool:
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or char == _ZWJ
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (emoji vs text presentation)
        or 0x1F3FB <= code <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
    )
