"""Brazilian real amounts as a customer reads them."""

from __future__ import annotations

__all__ = ["format_brl"]


def format_brl(cents: int) -> str:
    """``123456`` → ``R$ 1.234,56``; negative amounts read ``-R$ 1.234,56``.

    Hand-written rather than via ``locale`` (process-global, and pt_BR may not be installed in the
    container) or Babel (a dependency for one format, and it uses a non-breaking space that
    customers copy into other fields). Amounts are integer cents throughout, so no float rounding.
    """
    sign = "-" if cents < 0 else ""
    reais, centavos = divmod(abs(cents), 100)
    return f"{sign}R$ {reais:,}".replace(",", ".") + f",{centavos:02d}"
