"""`whistle users add | list | revoke | set-role` against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest

pytestmark = pytest.mark.integration


def whistle(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``whistle ARGS`` with the database at ``dsn``."""
    env = {**os.environ, "WHISTLE_DATABASE_URL": dsn, "WHISTLE_LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "-m", "whistle.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_users_add_prints_the_token_once_and_revoke_disables_it(fresh_database: str) -> None:
    added = whistle(
        fresh_database, "users", "add", "sec-jinhai", "--role", "secretary",
        "--area", "tongan.datong.jinhai", "--name", "金海社区书记",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("wh_") and len(token) > 40
    listed = whistle(fresh_database, "users", "list")
    assert "sec-jinhai" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout
    assert whistle(fresh_database, "users", "revoke", "sec-jinhai").returncode == 0
    assert "revoked" in whistle(fresh_database, "users", "list").stdout
    again = whistle(fresh_database, "users", "revoke", "sec-jinhai")
    assert again.returncode == 1
    assert again.stderr.strip().startswith("whistle users revoke:")


def test_users_add_refuses_a_scope_that_does_not_fit_the_role(fresh_database: str) -> None:
    wrong = whistle(fresh_database, "users", "add", "x", "--role", "liaison", "--area", "tongan")
    assert wrong.returncode == 2
    assert "department" in wrong.stderr


def test_users_set_role_keeps_the_token_and_is_audited(fresh_database: str) -> None:
    added = whistle(
        fresh_database, "users", "add", "li-x", "--role", "liaison", "--department", "transport"
    )
    assert added.returncode == 0, added.stderr
    moved = whistle(
        fresh_database, "users", "set-role", "li-x", "--role", "supervisor", "--area", "tongan"
    )
    assert moved.returncode == 0
    assert moved.stdout.strip() == "li-x 现为 supervisor（tongan），令牌不变"
    assert "supervisor  tongan" in whistle(fresh_database, "users", "list").stdout
    wrong = whistle(
        fresh_database, "users", "set-role", "li-x", "--role", "liaison", "--lang", "en"
    )
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1
    assert "needs a department" in wrong.stderr
    nobody = whistle(fresh_database, "users", "set-role", "ghost", "--role", "admin")
    assert nobody.returncode == 1 and "没有有效用户 ghost" in nobody.stderr

    async def kinds() -> list[tuple[str, str, str]]:
        conn = await asyncpg.connect(fresh_database)
        try:
            rows = await conn.fetch("SELECT kind, subject, actor FROM audit.entries ORDER BY 1")
            return [(r["kind"], r["subject"], r["actor"]) for r in rows]
        finally:
            await conn.close()

    found = asyncio.run(kinds())
    assert [(k, s) for k, s, _ in found] == [("user.added", "li-x"), ("user.role_changed", "li-x")]
    assert all(actor.startswith("cli:") for _, _, actor in found)
