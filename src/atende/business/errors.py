"""Business API errors: domain errors that carry their HTTP status (RFC 9457 problem details)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from atende.kit.errors import AtendeError, BadRequest


class InvalidDocument(AtendeError):
    """A CPF/CNPJ that fails validation; ``reason`` names the check (length, check_digits…)."""

    status_code = 422
    title = "invalid document"

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason

    def extensions(self) -> dict[str, object]:
        return {"reason": self.reason}


class RefusedByBusiness(AtendeError):
    """The business's rules said no (e.g. a boleto too old to re-issue); ``detail`` is pt-BR."""

    status_code = 409
    title = "refused"


class ErpUnavailable(AtendeError):
    status_code = 503
    title = "business system unavailable"


class ErpSecretUnreadable(AtendeError):
    """The tenant's ERP token cannot be decrypted with the configured keys (the key was rotated
    without keeping the old one): the operator's configuration, not the ERP, is at fault."""

    status_code = 503
    title = "configuration error"

    def __init__(self) -> None:
        super().__init__(
            "o token de acesso ao sistema da empresa (ERP) não pode ser lido com a chave de "
            "criptografia configurada (ATENDE_SECRET_KEY); os administradores foram avisados"
        )

    def extensions(self) -> dict[str, object]:
        return {"reason": "erp_secret_unreadable"}


class ErpBadAnswer(AtendeError):
    """The business's system answered outside its contract (a malformed body, an odd status)."""

    status_code = 502
    title = "bad gateway"


class InvalidBusinessRequest(AtendeError):
    status_code = 422
    title = "invalid request"


class LinkGone(AtendeError):
    """A sealed link that was good once: expired, or its boleto was paid or re-issued since."""

    status_code = 410
    title = "gone"


class HttpProblem(AtendeError):
    """What the web framework itself answers (a route or method the API does not have), in the
    API's own words and shape."""

    def __init__(self, status: int) -> None:
        super().__init__(_HTTP_DETAILS.get(status, "a requisição não pôde ser atendida"))
        self.status_code = status
        self.title = _HTTP_TITLES.get(status, "error")

    def extensions(self) -> dict[str, object]:
        # Lets a client (our REST connector among them) tell a missing route, which is a wrong
        # base URL, from a missing record.
        return {"reason": "no_such_route"} if self.status_code == 404 else {}


_HTTP_DETAILS = {
    404: "esta rota não existe na API; confira o endereço (os caminhos começam por /api/v1/)",
    405: "este método não é aceito nesta rota",
    413: "a requisição é grande demais",
    415: "tipo de conteúdo não aceito; envie JSON",
}
_HTTP_TITLES = {
    404: "not found",
    405: "method not allowed",
    413: "payload too large",
    415: "unsupported media type",
}


class InvalidInput(BadRequest):
    """A request FastAPI could not validate: a 400 whose ``detail`` says, in pt-BR, what is wrong
    with each field, and whose ``errors`` keep the field's location and pydantic's error type
    for programs. Never the offending values: they may be a CPF."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        self.errors = [
            {"loc": ".".join(str(part) for part in error.get("loc", ())), "type": error["type"]}
            for error in errors
        ]
        problems = [
            f"{found['loc']}: {_explain(str(error['type']), error.get('ctx') or {})}"
            for found, error in zip(self.errors, errors, strict=True)
        ]
        super().__init__(f"requisição inválida: {'; '.join(problems)}")

    def extensions(self) -> dict[str, object]:
        return {"errors": self.errors}


def _count(number: object, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _explain(kind: str, ctx: Mapping[str, Any]) -> str:
    """pydantic's error type in pt-BR. Hand-written: pydantic v2 ships English only, and the
    translation packages on PyPI cover pydantic v1's messages, without Portuguese."""
    if kind in _WITH_LIMITS:
        return _WITH_LIMITS[kind](ctx)
    return _FIXED.get(kind, "valor inválido")


_WITH_LIMITS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "string_too_short": lambda c: (
        "deve ter pelo menos " + _count(c.get("min_length"), "caractere", "caracteres")
    ),
    "string_too_long": lambda c: (
        "deve ter no máximo " + _count(c.get("max_length"), "caractere", "caracteres")
    ),
    "too_short": lambda c: "deve ter pelo menos " + _count(c.get("min_length"), "item", "itens"),
    "too_long": lambda c: "deve ter no máximo " + _count(c.get("max_length"), "item", "itens"),
    "greater_than": lambda c: f"deve ser maior que {c.get('gt')}",
    "greater_than_equal": lambda c: f"deve ser maior ou igual a {c.get('ge')}",
    "less_than": lambda c: f"deve ser menor que {c.get('lt')}",
    "less_than_equal": lambda c: f"deve ser menor ou igual a {c.get('le')}",
}

_FIXED = {
    "missing": "campo obrigatório",
    "extra_forbidden": "campo não permitido",
    "int_parsing": "deve ser um número inteiro",
    "int_type": "deve ser um número inteiro",
    "int_from_float": "deve ser um número inteiro",
    "float_parsing": "deve ser um número",
    "float_type": "deve ser um número",
    "string_type": "deve ser um texto",
    "bool_parsing": "deve ser verdadeiro ou falso",
    "bool_type": "deve ser verdadeiro ou falso",
    "list_type": "deve ser uma lista",
    "dict_type": "deve ser um objeto JSON",
    "model_type": "deve ser um objeto JSON",
    "model_attributes_type": "deve ser um objeto JSON",
    "json_invalid": "JSON inválido",
    "json_type": "JSON inválido",
    "literal_error": "valor não permitido",
    "enum": "valor não permitido",
    "string_pattern_mismatch": "formato inválido",
    "date_parsing": "data inválida (use AAAA-MM-DD)",
    "date_from_datetime_parsing": "data inválida (use AAAA-MM-DD)",
}
