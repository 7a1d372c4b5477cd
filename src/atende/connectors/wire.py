"""Reading remote adapters' answers: shared by the HTTP connectors (REST, Nuvemshop)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from atende.connectors.port import ConnectorError

M = TypeVar("M", bound=BaseModel)


def json_or_none(raw: bytes) -> Any:
    """The JSON body, or None when there is none or it is not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def parse_answer(model: type[M], body: Any, *, who: str) -> M:
    """``body`` as ``model``, or a ConnectorError that counts the errors without quoting the
    offending values (they may be personal data)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        name = model.__name__.lstrip("_")
        raise ConnectorError(
            f"{who} answered a malformed {name}: {exc.error_count()} error(s)"
        ) from None
