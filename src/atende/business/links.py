"""Links to boleto PDFs that a customer (or WhatsApp's media servers) can open without a token.

This is the one place where a second copy's PDF becomes a link a customer is sent, for the
Business API and for the assistant's tools alike (wired in ``main.py``):

- a connector that renders the PDF itself (:class:`PdfSource`, the demo ERP) gets a sealed link
  to ``GET /api/v1/financeiro/boletos/pdf/{seal}`` under ``ATENDE_PUBLIC_URL``;
- a connector that answers an absolute ``https`` URL of its own (a real ERP's or bank's public
  link) is passed through: that system serves and protects it;
- anything else (a relative path, plain ``http``, a connector's internal address) never reaches a
  customer: the copy goes out without a PDF, and a warning says why.

The seal is an opaque, authenticated and expiring token of (tenant, título, document, barcode):
no personal data in the URL (URLs end up in proxy logs), nothing to guess, nothing to tamper
with. The barcode pins the boleto the customer was shown: when the ERP re-issues it (a new due
date, interest) or it is paid, the old link answers 410 instead of a PDF whose numbers differ
from the linha digitável in the chat.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import orjson

from atende.business.errors import LinkGone
from atende.business.registry import ConnectorRegistry
from atende.connectors.port import SecondCopy
from atende.kit.errors import NotFound
from atende.kit.logging import get_logger
from atende.kit.secrets import SecretBox, SecretUnreadable

log = get_logger(__name__)

PDF_PATH = "/api/v1/financeiro/boletos/pdf/{seal}"
#: A link is good for a day: long enough to pay, short enough not to live forever in a chat.
#: (A boleto re-issued or paid within the day is caught by the barcode in the seal.)
MAX_AGE_SECONDS = 24 * 3600

INVALID_LINK = "Este link de boleto é inválido. Peça uma nova 2ª via no atendimento."
EXPIRED_LINK = (
    "Este link de boleto expirou (ele vale 24 horas). Peça uma nova 2ª via no atendimento."
)
CHANGED_BOLETO = (
    "Este boleto não está mais disponível: ele foi pago, atualizado ou reemitido. Peça uma "
    "nova 2ª via no atendimento."
)


@runtime_checkable
class PdfSource(Protocol):
    """Connectors that can render a boleto's PDF themselves (the demo ERP does)."""

    async def render_pdf(self, titulo_id: str) -> bytes: ...


@dataclass(frozen=True, slots=True)
class PdfGrant:
    tenant_id: str
    titulo_id: str
    document: str
    #: The barcode of the boleto the customer was shown; None in seals made before it was kept.
    barcode: str | None = None


def is_public_https(url: str) -> bool:
    """An absolute https URL with a host: something a customer's phone can open as is."""
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)


def public_url_problem(public_url: str) -> str | None:
    """Why customers could not open links under ``public_url``, or None when they can."""
    parts = urlsplit(public_url)
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not host:
        return "it is not an absolute http(s) URL"
    if host in {"localhost", "127.0.0.1", "::1", "0.0.0.0"} or host.endswith(".local"):  # noqa: S104 - a comparison, not a bind
        return "it points at this machine"
    if parts.scheme != "https":
        return "it is not https (WhatsApp and browsers expect https)"
    return None


def _canonical(seal: str) -> bool:
    """A seal exactly as :meth:`BoletoLinks.seal` wrote it. Fernet decodes base64 leniently
    (characters after the padding, a newline, a second padding are ignored), so many URLs would
    open the same PDF; only the one we issued does. Re-encoding what was decoded must give the
    seal back."""
    try:
        raw = base64.urlsafe_b64decode(seal.encode("ascii"))
    except (ValueError, binascii.Error):
        return False
    return base64.urlsafe_b64encode(raw).decode("ascii") == seal


class BoletoLinks:
    """Makes and opens the links customers get for a second copy's PDF."""

    def __init__(self, box: SecretBox, public_url: str, registry: ConnectorRegistry) -> None:
        self._box = box
        self._public_url = public_url.rstrip("/")
        self._registry = registry

    async def for_customer(self, tenant_id: str, document: str, copy: SecondCopy) -> str | None:
        """The PDF link to send the customer for ``copy``, or None when there is none they
        could open. ``document`` is the verified customer's, normalised."""
        erp = await self._registry.erp(tenant_id)
        if isinstance(erp.inner, PdfSource):
            return self.seal(PdfGrant(tenant_id, copy.titulo_id, document, copy.barcode))
        if copy.pdf_url is None:
            return None
        if is_public_https(copy.pdf_url):
            return copy.pdf_url
        # Neither the URL (it may carry the ERP's own tokens) nor the título is logged.
        log.warning(
            "a connector's PDF link is not one a customer can open; sent without it",
            tenant_id=tenant_id,
            connector=erp.name,
            scheme=urlsplit(copy.pdf_url).scheme or "relative",
        )
        return None

    def seal(self, grant: PdfGrant) -> str:
        fields = {"t": grant.tenant_id, "i": grant.titulo_id, "d": grant.document}
        if grant.barcode is not None:
            fields["b"] = grant.barcode
        seal = self._box.encrypt(orjson.dumps(fields).decode())
        return self._public_url + PDF_PATH.format(seal=seal)

    def open(self, seal: str) -> PdfGrant:
        """The grant behind a seal: 404 when it is not one of ours, 410 when it has expired."""
        if not _canonical(seal):
            raise NotFound(INVALID_LINK)
        try:
            plain = self._box.decrypt(seal)
        except (SecretUnreadable, ValueError):
            raise NotFound(INVALID_LINK) from None
        # Authentic: now its age. Fernet keeps the time it was sealed inside the token.
        if self._box.open_sealed(seal, max_age_seconds=MAX_AGE_SECONDS) is None:
            raise LinkGone(EXPIRED_LINK)
        try:
            data = orjson.loads(plain)
            barcode = data.get("b")
            return PdfGrant(
                str(data["t"]),
                str(data["i"]),
                str(data["d"]),
                None if barcode is None else str(barcode),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise NotFound(INVALID_LINK) from None
