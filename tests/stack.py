"""A whole Whistle service on its own topics and database, with a user of every role.

Used by the adversarial (schemathesis), log-hygiene and overload checks, which all need the
real processes: worker, projector, API (and the webhook deliverer where asked).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from tests.conftest import unique_name, with_database
from tests.service_fixtures import isolated_env, settings_of, supervised
from whistle.api.account_store import PgUsers, migrate_api
from whistle.service.process_supervisor import Supervisor
from whistle.topics import ensure_topics

JINHAI = "tongan.datong.jinhai"
LEAD = "urban_management"
COMMANDS = {
    "worker": ("worker",),
    "projector": ("projector",),
    "api": ("api",),
    "webhooks": ("webhooks", "deliver"),
}


@dataclass
class Stack:
    """A running service: its base URL, environment, log folder and a token per role."""

    base: str
    env: dict[str, str]
    log_dir: Path
    tokens: dict[str, str]
    supervisor: Supervisor

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``whistle ARGS`` against this service."""
        return run_cli(self.env, *args)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``whistle ARGS`` with ``env`` (output captured, bounded)."""
    return subprocess.run(
        [sys.executable, "-m", "whistle.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def eventually(probe: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    """Call ``probe`` until it answers something true (the projection caught up); that answer."""
    deadline = time.monotonic() + timeout_s
    while not (result := probe()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.3)
    return result


async def make_role_tokens(dsn: str, lead: str = LEAD) -> dict[str, str]:
    """Tokens of an admin, a secretary of 金海, the lead liaison, another liaison, a supervisor."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            await migrate_api(conn)
        users = PgUsers(pool, 0.0)
        other = "civil_affairs" if lead != "civil_affairs" else "transport"
        return {
            "admin": await users.add("root", "admin"),
            "secretary": await users.add("sec-jinhai", "secretary", area=JINHAI, name="金海书记"),
            "liaison": await users.add("li-lead", "liaison", department=lead),
            "other_liaison": await users.add("li-other", "liaison", department=other),
            "supervisor": await users.add("sup-tongan", "supervisor", area="tongan"),
        }
    finally:
        await pool.close()


@contextmanager
def scratch_database(database_url: str, prefix: str) -> Iterator[str]:
    """A new empty database on the server of ``database_url`` for the block; yields its DSN."""
    name = unique_name(prefix).replace("-", "_")
    asyncio.run(_admin(database_url, f'create database "{name}"'))
    try:
        yield with_database(database_url, name)
    finally:
        asyncio.run(_admin(database_url, f'drop database if exists "{name}" with (force)'))


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def every_row_as_text(dsn: str) -> str:
    """Every row of every table of the database (all schemas), as text: to search for leaks."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS t"
            " FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        out = []
        for table in tables:
            rows = await conn.fetch(f"SELECT x::text AS row FROM {table['t']} x")
            out += [f"{table['t']}: {r['row']}" for r in rows]
        return "\n".join(out)
    finally:
        await conn.close()


@contextmanager
def running_stack(
    tmp_path: Path,
    bootstrap: str,
    dsn: str,
    prefix: str,
    processes: Iterable[str] = ("worker", "projector", "api"),
    extra_env: dict[str, str] | None = None,
    lead: str = LEAD,
) -> Iterator[Stack]:
    """Migrate, create the users, start ``processes``, wait for /readyz; stop them after."""
    env = isolated_env(tmp_path, bootstrap, dsn, prefix) | (extra_env or {})
    settings = settings_of(env)
    asyncio.run(ensure_topics(settings))
    migrated = run_cli(env, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    tokens = asyncio.run(make_role_tokens(dsn, lead))
    base = f"http://127.0.0.1:{settings.http_port}"
    with supervised(tmp_path, env) as supervisor:
        for name in processes:
            supervisor.start(name, *COMMANDS[name])
        supervisor.wait_ready(f"{base}/readyz", 180)
        yield Stack(base, env, tmp_path / "logs", tokens, supervisor)
