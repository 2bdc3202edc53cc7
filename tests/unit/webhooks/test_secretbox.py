"""Endpoint secrets are encrypted at rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from whistle.webhooks.secretbox import SecretBox, SecretKeyError, resolve_key
from whistle.webhooks.signing import new_secret


def test_a_sealed_secret_opens_with_the_same_key_only() -> None:
    secret = new_secret()
    sealed = SecretBox("k1").seal(secret)
    assert secret not in sealed
    assert SecretBox("k1").open(sealed) == secret
    with pytest.raises(SecretKeyError):
        SecretBox("k2").open(sealed)


def test_without_a_key_a_private_one_is_kept_in_the_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHISTLE_SECRET_KEY", raising=False)
    first = resolve_key(None, tmp_path)
    assert resolve_key(None, tmp_path) == first
    assert (tmp_path / "webhook-secret.key").stat().st_mode & 0o077 == 0
    assert resolve_key("configured", tmp_path) == "configured"
