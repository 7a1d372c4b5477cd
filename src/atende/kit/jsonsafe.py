"""Making provider JSON storable on every engine, and bounded.

PostgreSQL's text and JSONB types cannot hold the NUL character (U+0000) that JSON allows, so a
customer (or an attacker) could otherwise turn a valid webhook into a database error. NUL has no
meaning in a chat message; it becomes U+FFFD, the replacement character.

Depth is bounded too: JSON allows any nesting, and walking it recursively (here, in the JSON
encoders of both engines' drivers) ends in a RecursionError a few hundred levels down. The
deepest real WhatsApp payload is about a dozen levels; the size of what is stored is bounded
by the webhook's body limit (``ATENDE_WEBHOOK_MAX_BODY_BYTES``).
"""

from __future__ import annotations

from typing import Any

_NUL = "\x00"
_REPLACEMENT = "\ufffd"
#: Levels of objects and arrays kept; webhook bodies deeper than this are refused at the edge.
MAX_DEPTH = 64
TOO_DEEP = "[nested too deeply]"


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests objects or arrays more than ``limit`` levels. Iterative, so that
    it cannot itself run out of stack on the values it exists to refuse."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def storable(value: Any, _depth: int = 1) -> Any:
    """``value`` without NUL characters, and with anything nested deeper than
    :data:`MAX_DEPTH` replaced by a marker."""
    if isinstance(value, str):
        return value.replace(_NUL, _REPLACEMENT) if _NUL in value else value
    if isinstance(value, dict | list | tuple) and _depth > MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {storable(k): storable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v, _depth + 1) for v in value]
    return value
