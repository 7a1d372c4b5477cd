"""Authenticity checks for the WhatsApp Cloud API webhook.

Meta signs every delivery with ``X-Hub-Signature-256: sha256=<hex>``, an HMAC-SHA256 of the raw
body keyed by the app secret, and proves a subscription with a GET handshake carrying a verify
token we chose. Both run before any JSON work, so they stay allocation-light.
"""

from __future__ import annotations

import hashlib
import hmac

_PREFIX = "sha256="
_HEX_DIGEST_LEN = 64


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta would send for ``body``."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is Meta's signature of exactly these bytes (before any re-encoding)."""
    # An unset secret would make a signature anyone can compute, so it verifies nothing.
    if not app_secret or not header or not header.startswith(_PREFIX):
        return False
    received = header[len(_PREFIX) :]
    # Rejecting a wrong length first skips the HMAC for junk; comparing decoded bytes (not the hex
    # text) makes upper- and lower-case digests equivalent.
    if len(received) != _HEX_DIGEST_LEN:
        return False
    try:
        received_bytes = bytes.fromhex(received)
    except ValueError:
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, received_bytes)


def verify_handshake(
    mode: str | None, token: str | None, challenge: str | None, expected_token: str
) -> str | None:
    """The ``hub.challenge`` to echo when Meta's subscription handshake is genuine, else None."""
    # An unset expected token must not let an empty ``hub.verify_token`` through.
    if mode != "subscribe" or not token or not expected_token or not challenge:
        return None
    # Constant time so the verify token cannot be guessed byte by byte from response timing.
    if not hmac.compare_digest(token.encode(), expected_token.encode()):
        return None
    return challenge
