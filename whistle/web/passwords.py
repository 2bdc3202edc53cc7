"""People's passwords: Argon2id hashes (argon2-cffi's RFC 9106 defaults), a minimal strength
rule, and generated passwords for a reset (shown once)."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
GENERATED_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""No 0/o, 1/l/i: a reset password is read aloud or typed from a phone."""


def weakness(password: str, username: str) -> str | None:
    """Why ``password`` is too weak (a catalogue key), or None: at least 10 characters, letters
    and digits both, and not containing the username."""
    if len(password) < MIN_LENGTH:
        return "password_too_short"
    if not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
        return "password_letters_digits"
    if username and username.lower() in password.lower():
        return "password_has_username"
    return None


def generated_password() -> str:
    """A fresh random password for a reset: 16 characters in four groups (about 79 bits)."""
    while True:
        raw = "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(16))
        password = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
        if weakness(password, "") is None:
            return password


class Passwords:
    """Hashes and checks passwords off the event loop (a hash costs tens to hundreds of ms).

    The default cost is argon2-cffi's (RFC 9106's low-memory profile: 64 MiB, 3 passes); tests
    pass a cheaper ``PasswordHasher`` to keep hundreds of logins fast. A stored hash of other
    parameters is still verified, and re-hashed at the next login (``needs_rehash``)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash("not-a-password-of-anyone")
        # verified against when the username is unknown, so both answers take as long

    async def hash(self, password: str) -> str:
        """The Argon2id hash of ``password``."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> tuple[bool, bool]:
        """``(matches, needs_rehash)``; a missing hash is checked against a dummy (same time)."""

        def check() -> tuple[bool, bool]:
            try:
                self._hasher.verify(stored or self._dummy, password)
            except (VerificationError, InvalidHashError):
                return False, False
            if stored is None:
                return False, False
            return True, self._hasher.check_needs_rehash(stored)

        return await asyncio.to_thread(check)
