from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def from_unix(seconds: int | float | str | None) -> datetime | None:
    """Provider timestamps arrive as unix seconds, often as strings; junk becomes None."""
    if seconds is None:
        return None
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return None
    if not 0 <= value < 32503680000:  # before year 3000
        return None
    return datetime.fromtimestamp(value, UTC)
