"""Making provider JSON storable on every engine.

PostgreSQL's text and JSONB types cannot hold the NUL character (U+0000) that JSON allows, so a
customer (or an attacker) could otherwise turn a valid webhook into a database error. NUL has no
meaning in a chat message; it becomes U+FFFD, the replacement character.
"""

from __future__ import annotations

from typing import Any

_NUL = "\x00"
_REPLACEMENT = "\ufffd"


def storable(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(_NUL, _REPLACEMENT) if _NUL in value else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value
