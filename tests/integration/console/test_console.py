"""The `whistle` console against a served API: inbox, show, ack, errors, and `watch --once`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import uvicorn

from projections.migrate import migrate
from tests.e2e import dashboard_data
from tests.service_fixtures import free_port
from whistle.api import dashboard
from whistle.api.app import create_app
from whistle.api.deps import Services
from whistle.api.pgread import PgReadModel
from whistle.api.store import PgIdempotency, PgUsers, migrate_api
from whistle.bus import Decision
from whistle.settings import Settings

pytestmark = pytest.mark.integration


class AcceptingBus:
    """Accepts every command (the decider's own tests live elsewhere)."""

    def __init__(self) -> None:
        self.commands: list[Any] = []

    async def submit(self, command: Any, case_id: str, command_id: str) -> Decision:
        self.commands.append(command)
        return Decision(command_id=command_id, case_id=case_id, status="accepted")


async def _no_probe() -> None:
    return None


@pytest.fixture
async def served(fresh_database: str) -> AsyncIterator[dict[str, Any]]:
    """The API over seeded read models, a liaison's and a supervisor's tokens."""
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn)
        await migrate_api(conn)
        await dashboard_data.seed(conn)
        await dashboard_data.breach(conn, "WH-DEMO-10", "public_security")
    users = PgUsers(pool, 0.0)
    tokens = {
        "police": await users.add("li-police", "liaison", department="public_security"),
        "supervisor": await users.add("sup", "supervisor", area="tongan"),
    }
    bus = AcceptingBus()
    services = Services(
        bus=bus,
        read=PgReadModel(pool),
        users=users,
        idempotency=PgIdempotency(pool),
        kafka_probe=_no_probe,
    )
    app = create_app(Settings(), services)
    if not any(getattr(r, "path", "") == "/dashboard" for r in app.routes):
        app.include_router(dashboard.router)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "tokens": tokens, "bus": bus}
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(task, 10)
        await pool.close()


async def whistle(served: dict[str, Any], who: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as ``who`` (in a thread, so the served API keeps answering)."""
    env = {**os.environ, "WHISTLE_API_URL": served["url"], "WHISTLE_TOKEN": served["tokens"][who]}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "whistle.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_liaison_reads_the_inbox_and_acknowledges(served: dict[str, Any]) -> None:
    inbox = await whistle(served, "police", "inbox")
    assert inbox.returncode == 0, inbox.stderr
    assert "WH-DEMO-10" in inbox.stdout and "已派单" in inbox.stdout and "金海社区" in inbox.stdout
    assert "WH-DEMO-02" not in inbox.stdout  # transport's case, closed anyway
    show = await whistle(served, "police", "show", "WH-DEMO-10")
    assert show.returncode == 0, show.stderr
    assert "广场舞噪音扰民" in show.stdout and "公安分局" in show.stdout
    ack = await whistle(served, "police", "ack", "WH-DEMO-10")
    assert (ack.returncode, ack.stdout.strip()) == (0, "已签收 WH-DEMO-10")
    [command] = served["bus"].commands
    assert (command.type, command.department) == ("Acknowledge", "public_security")
    ack_en = await whistle(served, "police", "ack", "WH-DEMO-10", "--lang", "en")
    assert ack_en.stdout.strip() == "Acknowledged WH-DEMO-10"


async def test_errors_are_one_line_with_an_exit_code(served: dict[str, Any]) -> None:
    other = await whistle(served, "police", "ack", "WH-DEMO-02")
    assert other.returncode == 4
    assert other.stderr.startswith("错误: ") and other.stderr.count("\n") == 1
    served["tokens"]["nobody"] = "wh_not-a-token"
    refused = await whistle(served, "nobody", "inbox", "--lang", "en")
    assert refused.returncode == 3
    assert refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1
    invalid = await whistle(served, "police", "progress", "WH-DEMO-10", "--note", "")
    assert invalid.returncode == 5, invalid.stderr


async def test_watch_prints_the_breach_board(served: dict[str, Any]) -> None:
    watch = await whistle(served, "supervisor", "watch", "--once", "--no-color")
    assert watch.returncode == 0, watch.stderr
    assert "超时督办看板" in watch.stdout
    assert "WH-DEMO-10" in watch.stdout and "公安分局" in watch.stdout and "催办" in watch.stdout
    assert "占道经营应由城管处理" in watch.stdout  # the dispute to rule on
    assert "街道催办" in watch.stdout  # the escalation
