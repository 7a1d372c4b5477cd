"""Links to boleto PDFs that a customer (or WhatsApp's media servers) can open without a token.

The link carries an opaque, authenticated and expiring seal of (tenant, título, document): no
personal data in the URL (URLs end up in proxy logs), nothing to guess, nothing to tamper with.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from atende.kit.secrets import SecretBox

PDF_PATH = "/api/v1/financeiro/boletos/pdf/{seal}"
#: A link is good for a day: long enough to pay, short enough not to live forever in a chat.
MAX_AGE_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class PdfGrant:
    tenant_id: str
    titulo_id: str
    document: str


def seal_pdf_link(box: SecretBox, public_url: str, grant: PdfGrant) -> str:
    seal = box.encrypt(
        orjson.dumps({"t": grant.tenant_id, "i": grant.titulo_id, "d": grant.document}).decode()
    )
    return public_url.rstrip("/") + PDF_PATH.format(seal=seal)


def open_pdf_link(box: SecretBox, seal: str) -> PdfGrant | None:
    plain = box.open_sealed(seal, max_age_seconds=MAX_AGE_SECONDS)
    if plain is None:
        return None
    try:
        data = orjson.loads(plain)
        return PdfGrant(str(data["t"]), str(data["i"]), str(data["d"]))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
