"""Migrations apply in order, once, and an edited landed migration is refused."""

from __future__ import annotations

import subprocess
import sys

import asyncpg
import pytest

from projections.migrate import Migration, MigrationError, load_migrations, migrate
from whistle.settings import REPO_ROOT

pytestmark = pytest.mark.integration


async def test_migrations_apply_once_and_edits_are_refused(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        landed = load_migrations()
        assert [m.version for m in landed] == list(range(1, len(landed) + 1))
        assert await migrate(conn) == [m.version for m in landed]
        assert await migrate(conn) == []
        edited = [*landed[:-1], Migration(landed[-1].version, landed[-1].name, "SELECT 1;")]
        with pytest.raises(MigrationError, match="edited after it landed"):
            await migrate(conn, migrations=edited)
        with pytest.raises(MigrationError, match="file is gone"):
            await migrate(conn, migrations=landed[:-1])
        recorded = await conn.fetch("SELECT version, checksum FROM projection.schema_migrations")
        assert {r["version"]: r["checksum"] for r in recorded} == {
            m.version: m.checksum for m in landed
        }
    finally:
        await conn.close()


def test_whistle_db_migrate_command(fresh_database: str) -> None:
    run = [sys.executable, "-m", "whistle.cli", "db", "migrate", "--dsn", fresh_database]
    first = subprocess.run(run, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied: [1, 2")
    again = subprocess.run(run, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    assert again.returncode == 0 and "up to date" in again.stdout
