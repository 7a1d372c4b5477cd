"""Reading a boleto PDF back the way a reader would, without a PDF library in the lock file.

The renderer (reportlab) writes one page whose drawing operators are ASCII85 over Flate: the
text is recovered from its ``Tj`` strings and the barcode from the bars it draws, decoded as
Interleaved 2 of 5 (FEBRABAN's symbology) into the 44 digits a bank's scanner would read.
"""

from __future__ import annotations

import base64
import re
import zlib

# Interleaved 2 of 5, narrow (n) and wide (w) elements of each digit, from the standard.
ITF_DIGITS = {
    "nnwwn": "0",
    "wnnnw": "1",
    "nwnnw": "2",
    "wwnnn": "3",
    "nnwnw": "4",
    "wnwnn": "5",
    "nwwnn": "6",
    "nnnww": "7",
    "wnnwn": "8",
    "nwnwn": "9",
}


def page_content(pdf: bytes) -> str:
    """The page's drawing operators: reportlab wraps them in ASCII85 over Flate."""
    streams = re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.DOTALL)
    assert len(streams) == 1
    flate = base64.a85decode(streams[0].strip().removesuffix(b"~>"), adobe=False)
    return zlib.decompress(flate).decode("latin-1")


def page_text(pdf: bytes) -> list[str]:
    """Every string drawn on the page, PDF escapes undone (the fonts use WinAnsi, i.e. cp1252)."""
    strings = re.findall(r"\(((?:[^()\\]|\\.)*)\) Tj", page_content(pdf))

    def unescape(text: str) -> str:
        raw = re.sub(r"\\([0-7]{3}|.)", lambda m: _escape(m.group(1)), text)
        return raw.encode("latin-1").decode("cp1252")

    return [unescape(s) for s in strings]


def _escape(sequence: str) -> str:
    if len(sequence) == 3:
        return chr(int(sequence, 8))
    return {"n": "\n", "r": "\r", "t": "\t"}.get(sequence, sequence)


def decode_itf(pdf: bytes) -> tuple[str, float]:
    """Read the barcode back from the bars drawn 13 mm tall: (digits, narrow bar width in pt)."""
    bars = sorted(
        (float(x), float(width))
        for x, width in re.findall(r"n ([\d.]+) 0 ([\d.]+) 36\.85039 re f\*", page_content(pdf))
    )
    narrow = min(width for _, width in bars)
    spaces = [bars[i + 1][0] - (x + width) for i, (x, width) in enumerate(bars[:-1])]

    def kind(width: float) -> str:
        return "w" if width > 1.5 * narrow else "n"

    bar_kinds = "".join(kind(width) for _, width in bars)
    space_kinds = "".join(kind(width) for width in spaces)
    assert bar_kinds[:2] == "nn"
    assert space_kinds[:2] == "nn"  # start pattern
    assert bar_kinds[-2:] == "wn"
    assert space_kinds[-1:] == "n"  # stop pattern
    digits = []
    for start in range(2, len(bar_kinds) - 2, 5):
        digits.append(ITF_DIGITS[bar_kinds[start : start + 5]])
        digits.append(ITF_DIGITS[space_kinds[start : start + 5]])
    return "".join(digits), narrow
