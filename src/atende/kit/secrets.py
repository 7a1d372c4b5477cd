"""Secrets at rest (channel secrets, tenants' ERP and model keys) are encrypted with Fernet.

``ATENDE_SECRET_KEY`` encrypts; it and the keys in ``ATENDE_PREVIOUS_SECRET_KEYS`` decrypt
(cryptography's ``MultiFernet``), so the key can be rotated without making stored secrets
unreadable: set the new key, list the old one as previous, run `atende secrets rotate`, then
drop the old key (docs/operations.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from atende.config import Environment, Settings
from atende.kit.errors import AtendeError


class SecretKeyInvalid(RuntimeError):
    """The secret keys in the environment are missing or malformed: a configuration error the
    command line reports in one line, not a traceback."""


class SecretUnreadable(AtendeError):
    """A stored secret was encrypted with none of the configured keys: a configuration error of
    the operator, answered as 503 (the service is unavailable until the key is configured)."""

    status_code = 503
    title = "configuration error"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail
            or "um segredo guardado não pode ser lido com a chave de criptografia configurada "
            "(ATENDE_SECRET_KEY); se a chave foi trocada, liste a anterior em "
            "ATENDE_PREVIOUS_SECRET_KEYS"
        )

    def extensions(self) -> dict[str, object]:
        return {"reason": "secret_unreadable"}


class SecretBox:
    def __init__(self, key: bytes, previous: tuple[bytes, ...] = ()) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in (key, *previous)])

    def encrypt(self, plaintext: str) -> str:
        token: bytes = self._fernet.encrypt(plaintext.encode())
        return token.decode()

    def decrypt(self, token: str) -> str:
        try:
            plain: bytes = self._fernet.decrypt(token.encode())
            return plain.decode()
        except InvalidToken as exc:
            raise SecretUnreadable() from exc

    def rotate(self, token: str) -> str | None:
        """``token`` encrypted with the current key, or None if no configured key reads it."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None

    def open_sealed(self, token: str, *, max_age_seconds: int) -> str | None:
        """Read a value sealed with :meth:`encrypt`, if authentic and younger than the limit."""
        try:
            plain: bytes = self._fernet.decrypt(token.encode(), ttl=max_age_seconds)
        except (InvalidToken, ValueError):
            return None
        return plain.decode()


def _previous_keys(settings: Settings) -> tuple[bytes, ...]:
    if settings.previous_secret_keys is None:
        return ()
    keys = tuple(
        k.encode()
        for k in re.split(r"[\s,]+", settings.previous_secret_keys.get_secret_value())
        if k
    )
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise SecretKeyInvalid(
                f"ATENDE_PREVIOUS_SECRET_KEYS: key {number} is not a Fernet key"
            ) from None
    return keys


def load_secret_box(settings: Settings) -> SecretBox:
    previous = _previous_keys(settings)
    if settings.secret_key is not None:
        return SecretBox(settings.secret_key.get_secret_value().encode(), previous)
    if settings.env is Environment.production:
        raise SecretKeyInvalid(
            "ATENDE_SECRET_KEY is required in production (a Fernet key; create one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
            ".decode())'`)"
        )
    # Development and tests: one key generated on first use, kept beside the SQLite file, so that
    # `make run` works with no setup and restarts can still read what they stored.
    path = Path(settings.var_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return SecretBox(path.read_bytes().strip(), previous)
