"""Domain errors carry their HTTP status; only the edge translates them into responses."""

from __future__ import annotations


class AtendeError(Exception):
    status_code = 500
    title = "internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extensions(self) -> dict[str, object]:
        """Extra members of the problem details body (RFC 9457 extension members)."""
        return {}


class NotFound(AtendeError):
    status_code = 404
    title = "not found"


class BadRequest(AtendeError):
    status_code = 400
    title = "bad request"


class Unauthorized(AtendeError):
    status_code = 401
    title = "unauthorized"


class Forbidden(AtendeError):
    status_code = 403
    title = "forbidden"


class PayloadTooLarge(AtendeError):
    status_code = 413
    title = "payload too large"


class TenantScopeError(AtendeError):
    """A query touched tenant-scoped data without a tenant: a bug, never a user error."""

    status_code = 500
    title = "tenant scope violation"
