"""`whistle users reset-password` against a real PostgreSQL: the password logs in once."""

from __future__ import annotations

import asyncpg
import pytest

from tests.integration.api.test_users_cli import whistle
from whistle.web.accounts import PgAccounts
from whistle.web.passwords import weakness

pytestmark = pytest.mark.integration


async def test_reset_password_prints_a_password_that_logs_in_and_must_be_changed(
    fresh_database: str,
) -> None:
    added = whistle(fresh_database, "users", "add", "sup-x", "--role", "supervisor",
                    "--area", "tongan")  # fmt: skip
    assert added.returncode == 0, added.stderr
    reset = whistle(fresh_database, "users", "reset-password", "sup-x", "--username", "tongan")
    assert reset.returncode == 0, reset.stderr
    password = reset.stdout.strip().splitlines()[-1]
    assert "logs in as tongan" in reset.stdout and weakness(password, "tongan") is None
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=2)
    try:
        result = await PgAccounts(pool).login("tongan", password, "127.0.0.1")
        assert result.session is not None and result.session.must_change_password
        assert result.session.principal.area == "tongan"
        assert (await PgAccounts(pool).login("tongan", "guess-1234", "127.0.0.1")).refused
        kinds = await pool.fetch("SELECT kind, actor FROM audit.entries WHERE subject = 'sup-x'")
        assert any(r["kind"] == "user.password_reset" and r["actor"].startswith("cli:")
                   for r in kinds)  # fmt: skip
    finally:
        await pool.close()
    missing = whistle(fresh_database, "users", "reset-password", "nobody")
    assert missing.returncode == 1 and "no active user" in missing.stderr
