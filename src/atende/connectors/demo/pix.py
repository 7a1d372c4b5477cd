"""PIX "copia e cola" (BR Code, EMV merchant-presented QR) payloads for the demo ERP's boletos.

A static BR Code: the beneficiary's PIX key, the amount and a transaction id, closed by the
CRC16-CCITT the Banco Central's manual requires (polynomial 0x1021, initial value 0xFFFF, computed
over the whole payload including the ``6304`` tag and length of the CRC field itself). Banking apps
reject a payload whose CRC does not match, so a demo customer can paste this into a real app and
see the amount and beneficiary (the demo key belongs to nobody, so the payment cannot complete).
"""

from __future__ import annotations

import re

from unidecode import unidecode

_GUI = "br.gov.bcb.pix"
_NAME_MAX = 25
_CITY_MAX = 15
_TXID_MAX = 25
_NOT_TXID = re.compile(r"[^A-Za-z0-9]")


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"EMV field {tag} longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def _ascii(text: str, limit: int) -> str:
    # Several banking apps reject accented characters in the name and city fields.
    return unidecode(text).upper()[:limit].strip()


def pix_copia_e_cola(
    *, key: str, amount_cents: int, merchant_name: str, merchant_city: str, txid: str
) -> str:
    """The text a customer pastes into the "PIX copia e cola" field of a banking app."""
    if amount_cents <= 0:
        raise ValueError("a PIX charge needs a positive amount")
    reais, cents = divmod(amount_cents, 100)
    reference = _NOT_TXID.sub("", txid)[:_TXID_MAX] or "***"
    payload = "".join(
        (
            _field("00", "01"),
            _field("26", _field("00", _GUI) + _field("01", key)),
            _field("52", "0000"),
            _field("53", "986"),  # ISO 4217 code of the real
            _field("54", f"{reais}.{cents:02d}"),
            _field("58", "BR"),
            _field("59", _ascii(merchant_name, _NAME_MAX)),
            _field("60", _ascii(merchant_city, _CITY_MAX)),
            _field("62", _field("05", reference)),
            "6304",
        )
    )
    return f"{payload}{crc16_ccitt(payload.encode()):04X}"
