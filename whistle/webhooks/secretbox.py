"""Encryption at rest of endpoint secrets (HMAC signing needs the raw secret, so not a hash)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken

if TYPE_CHECKING:
    from whistle.settings import Settings

KEY_ENV = "WHISTLE_SECRET_KEY"


class SecretKeyError(RuntimeError):
    """The key that encrypts endpoint secrets is missing or wrong."""


def _fernet(passphrase: str) -> Fernet:
    digest = hashlib.sha256(("whistle-webhooks:" + passphrase).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def resolve_key(configured: str | None, state_dir: Path | None) -> str:
    """The configured key, else a per-machine development key kept in the state directory."""
    if configured:
        return configured
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV]
    if state_dir is None:
        raise SecretKeyError(f"set {KEY_ENV} to encrypt webhook secrets")
    path = state_dir / "webhook-secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.urlsafe_b64encode(os.urandom(32)).decode())
    return path.read_text().strip()


class SecretBox:
    """Encrypts and decrypts ``whsec_`` secrets with a key from ``WHISTLE_SECRET_KEY``."""

    def __init__(self, key: str) -> None:
        self._fernet = _fernet(key)

    def seal(self, secret: str) -> str:
        """Ciphertext of a secret, safe to store."""
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret back from its ciphertext."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyError(f"cannot decrypt a webhook secret: wrong {KEY_ENV}?") from exc


def secret_box(settings: Settings) -> SecretBox:
    """The box every process uses: the key from the settings, else as :func:`resolve_key` says."""
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    return SecretBox(resolve_key(configured, settings.state_dir))
