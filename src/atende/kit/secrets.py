"""Channel secrets (app secret, access token, verify token) are encrypted at rest with Fernet."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from atende.config import Environment, Settings


class SecretUnreadable(RuntimeError):
    """A stored secret was encrypted with another key than ``ATENDE_SECRET_KEY``."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        token: bytes = self._fernet.encrypt(plaintext.encode())
        return token.decode()

    def decrypt(self, token: str) -> str:
        try:
            plain: bytes = self._fernet.decrypt(token.encode())
            return plain.decode()
        except InvalidToken as exc:  # pragma: no cover - key rotation mistakes only
            raise SecretUnreadable(
                "a channel secret cannot be decrypted with ATENDE_SECRET_KEY"
            ) from exc

    def open_sealed(self, token: str, *, max_age_seconds: int) -> str | None:
        """Read a value sealed with :meth:`encrypt`, if authentic and younger than the limit."""
        try:
            plain: bytes = self._fernet.decrypt(token.encode(), ttl=max_age_seconds)
        except (InvalidToken, ValueError):
            return None
        return plain.decode()


def load_secret_box(settings: Settings) -> SecretBox:
    if settings.secret_key is not None:
        return SecretBox(settings.secret_key.get_secret_value().encode())
    if settings.env is Environment.production:
        raise RuntimeError("ATENDE_SECRET_KEY is required in production (a Fernet key)")
    # Development and tests: one key generated on first use, kept beside the SQLite file, so that
    # `make run` works with no setup and restarts can still read what they stored.
    path = Path(settings.var_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return SecretBox(path.read_bytes().strip())
