"""`whistle webhooks …` against a fresh database: the secret is printed once, never listed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

pytestmark = pytest.mark.integration


def whistle(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI."""
    return subprocess.run(
        [sys.executable, "-m", "whistle.cli", "webhooks", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_add_list_rotate_disable_and_log(fresh_database: str, tmp_path: Path) -> None:
    env = {"WHISTLE_DATABASE_URL": fresh_database, "WHISTLE_STATE_DIR": str(tmp_path)}
    added = whistle(env, "add", "--department", "urban_management", "--url", "https://u.example/h")
    assert added.returncode == 0, added.stderr
    secret = next(w for w in added.stdout.split() if w.startswith("whsec_"))
    listed = whistle(env, "list")
    assert "urban_management" in listed.stdout and "whsec_" not in listed.stdout
    rotated = whistle(env, "rotate", "1", "--overlap-hours", "2")
    assert rotated.returncode == 0 and "whsec_" in rotated.stdout and secret not in rotated.stdout
    assert "rotating" in whistle(env, "list").stdout
    assert whistle(env, "disable", "1").returncode == 0
    assert "disabled" in whistle(env, "list").stdout
    assert whistle(env, "log", "--status", "dead").returncode == 0
    missing = whistle(env, "redeliver", "42")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    bad = whistle(env, "add", "--department", "x", "--url", "ftp://nowhere")
    assert bad.returncode == 2
    conn = await asyncpg.connect(fresh_database)
    try:
        sealed = await conn.fetch("SELECT secret_sealed, previous_sealed FROM webhooks.endpoints")
    finally:
        await conn.close()
    assert secret not in repr(sealed)  # encrypted at rest
