"""The `whistle` console against a served API: inbox, show, ack, errors, and `watch --once`;
and a liaison's whole job (contact, 集结 and 报到, extension, pause, resume, 办结) on the real
worker, projector and API."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
import uvicorn

from projections.migrate import migrate
from tests.conftest import unique_name
from tests.e2e import dashboard_data
from tests.service_fixtures import free_port
from tests.stack import LEAD, run_cli, running_stack
from whistle.api import dashboard
from whistle.api.account_store import PgIdempotency, PgUsers, migrate_api
from whistle.api.app import create_app
from whistle.api.deps import Services
from whistle.bus import Decision
from whistle.read.gateway import PgRead
from whistle.settings import Settings

pytestmark = pytest.mark.integration
T = TypeVar("T")


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
        read=PgRead(pool),
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


def test_a_liaison_does_the_whole_job_from_the_console_on_the_real_services(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    """Sign for, contact, joint action (集结) and report in (报到), extension, pause and resume,
    resolve (办结) — each step a `whistle` command through the real API, worker and projector;
    `whistle show` prints what the read model then holds."""
    with running_stack(tmp_path, kafka_bootstrap, fresh_database, unique_name("con")) as stack:
        added = stack.cli("users", "add", "li-tr", "--role", "liaison", "--department", "transport")
        tokens = stack.tokens | {"transport": added.stdout.split()[-1]}

        def cli(who: str, *args: str) -> subprocess.CompletedProcess[str]:
            return run_cli(stack.env | {"WHISTLE_TOKEN": tokens[who]}, *args)

        raised = httpx.post(
            f"{stack.base}/v1/cases",
            headers={"Authorization": f"Bearer {tokens['secretary']}"},
            json={
                "category": "tourist_crowds",
                "title": "滨海浪漫线游客激增",
                "description": "周末游客激增，占道摆摊",
                "address": "金海社区滨海浪漫线",
                "location": {"lat": 24.66, "lon": 118.24},
            },
            timeout=60,
        )
        assert raised.status_code == 201, raised.text
        case = raised.json()["case_id"]
        until(lambda: case in cli("liaison", "inbox").stdout)

        def ok(who: str, *args: str) -> str:
            done = cli(who, *args)
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        def refused(who: str, code: str | None, exit_code: int, *args: str) -> str:
            done = cli(who, *args)
            assert done.returncode == exit_code, (done.stdout, done.stderr)
            assert done.stderr.startswith("错误: ") and done.stderr.count("\n") == 1
            assert code is None or f"[{code}]" in done.stderr, done.stderr
            return done.stderr

        assert ok("liaison", "ack", case) == f"已签收 {case}"
        assert ok("transport", "ack", case) == f"已签收 {case}"
        contacted = ok("liaison", "contact", case, "--note", "已电话联系陈女士")
        assert contacted == f"已记录联系群众 {case}"
        refused("transport", "no_joint_action", 5, "report-in", case)
        bad = cli("liaison", "joint", case, "--place", "海堤", "--at", "下周六")
        assert bad.returncode == 5 and bad.stderr.count("\n") == 1 and "下周六" in bad.stderr
        refused("transport", "not_your_department", 3, "joint", case, "--place", "海堤")
        where = ("--place", "滨海浪漫线金海段", "--at", "2026-12-05T09:00")
        scheduled = ok("liaison", "joint", case, *where, "--departments", f"{LEAD},transport")
        assert scheduled == f"已安排集结 ja-1 {case}"
        assert ok("transport", "report-in", case) == f"已报到 ja-1 {case}"
        refused("transport", "already_reported_in", 5, "report-in", case)
        refused("other_liaison", None, 4, "report-in", case)  # not in its scope: 404
        assert ok("liaison", "report-in", case, "--action", "ja-1", "--lang", "en") == (
            f"Reported in at ja-1 on {case}: every department is there"
        )

        detail = json.loads(ok("liaison", "show", case, "--json"))
        resolve_due = next(k["due_at"] for k in detail["clocks"] if k["clock"] == "resolve")
        later = (datetime.fromisoformat(resolve_due) + timedelta(days=2)).isoformat()
        assert ok("liaison", "extension", case, "--until", later, "--reason", "需协调产权单位") == (
            f"已申请延期 {case}，等待督办审批"
        )
        refused("transport", "not_your_department", 3, "pause", case, "--reason", "等待材料")
        assert ok("liaison", "pause", case, "--reason", "等待群众补充材料") == f"已暂停计时 {case}"
        assert ok("liaison", "resume", case) == f"已恢复计时 {case}"
        refused("liaison", "joint_action_incomplete", 5, "resolve", case, "--summary", "已疏导")
        progress = ok("transport", "progress", case, "--note", "到场疏导", "--action", "ja-1")
        assert progress == f"已记录进展 {case}"
        refused(
            "transport",
            "unknown_joint_action",
            5,
            "progress",
            case,
            "--note",
            "x",
            "--action",
            "ja-9",
        )
        ok("transport", "complete", case, "--summary", "设临时停车区")
        resolved = ok("liaison", "resolve", case, "--summary", "设临时摊规点，游客分流")
        assert resolved == f"已办结 {case}"

        shown = until(lambda: _if("已办结" in (out := ok("liaison", "show", case)), out))
        assert "描述  周末游客激增，占道摆摊" in shown and "地址  金海社区滨海浪漫线" in shown
        assert "位置  24.66, 118.24" in shown
        assert "ja-1  12-05 09:00  滨海浪漫线金海段  已到齐" in shown
        assert re.search(r"交通\S*  已报到 \d\d-\d\d \d\d:\d\d", shown), shown
        timeline = httpx.get(
            f"{stack.base}/v1/cases/{case}/timeline",
            headers={"Authorization": f"Bearer {tokens['supervisor']}"},
            timeout=60,
        ).json()["events"]
        types = [e["type"] for e in timeline]
        steps = ("RequesterContacted", "JointActionScheduled", "DepartmentReportedIn")
        steps += ("ExtensionRequested", "ClockPaused", "ClockResumed", "CaseResolved")
        assert set(steps) <= set(types), types


def until(probe: Callable[[], T], timeout_s: float = 60.0) -> T:
    """Poll ``probe`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout_s
    while not (found := probe()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.3)
    return found


def _if(condition: bool, value: str) -> str:
    return value if condition else ""
