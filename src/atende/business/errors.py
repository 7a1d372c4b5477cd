"""Business API errors: domain errors that carry their HTTP status (RFC 9457 problem details)."""

from __future__ import annotations

from atende.kit.errors import AtendeError


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


class InvalidBusinessRequest(AtendeError):
    status_code = 422
    title = "invalid request"


class LinkGone(AtendeError):
    """A sealed link that was good once: expired, or its boleto was paid or re-issued since."""

    status_code = 410
    title = "gone"
