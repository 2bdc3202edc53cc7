"""The supervisors' dashboard in headless Chromium: it loads, a breach appears live, charts draw."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI

from projections.migrate import migrate
from tests.e2e import dashboard_data
from tests.e2e.browser import chromium
from tests.service_fixtures import free_port
from whistle.api import dashboard
from whistle.api.account_store import PgIdempotency, PgUsers, migrate_api
from whistle.api.app import create_app
from whistle.api.calendar_watch import CalendarWatch
from whistle.api.deps import Services
from whistle.api.readcache import CachedReadModel
from whistle.bus import Decision
from whistle.read.gateway import PgRead
from whistle.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.e2e

SCREENSHOT = REPO_ROOT / "docs" / "dashboard.png"
CALENDAR_DAY = datetime(2026, 12, 2, 10, tzinfo=timezone(timedelta(hours=8)))
"""The holiday calendar seen on this day: it ends with 2026, so the banner warns of 2027."""


class AcceptingBus:
    """Accepts every command and remembers it (the decider has its own tests)."""

    def __init__(self) -> None:
        self.commands: list[Any] = []

    async def submit(self, command: Any, case_id: str, command_id: str) -> Decision:
        self.commands.append(command)
        return Decision(command_id=command_id, case_id=case_id, status="accepted")


async def _no_probe() -> None:
    return None


def dashboard_app(pool: asyncpg.Pool, bus: AcceptingBus) -> FastAPI:
    """The API app over the test database, with the dashboard router."""
    live = PgRead(pool)
    services = Services(  # wired as connect_services does: reads behind the 1 s list cache
        bus=bus,
        read=CachedReadModel(live, 1.0),
        users=PgUsers(pool, 0.0),
        idempotency=PgIdempotency(pool),
        kafka_probe=_no_probe,
        live_read=live,
        calendar=CalendarWatch(live, now=lambda: CALENDAR_DAY),  # 30 days before 2027
    )
    app = create_app(Settings(), services)
    if not any(getattr(r, "path", "") == "/dashboard" for r in app.routes):
        app.include_router(dashboard.router)
    return app


async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on a free port; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def site(
    fresh_database: str,
) -> AsyncIterator[tuple[str, str, asyncpg.Pool, AcceptingBus]]:
    """A served dashboard over seeded read models, and a street supervisor's token."""
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=6)
    async with pool.acquire() as conn:
        await migrate(conn)
        await migrate_api(conn)
        await dashboard_data.seed(conn)
    token = await PgUsers(pool).add("sup-datong", "supervisor", area="tongan")
    try:
        bus = AcceptingBus()
        async for url in serve(dashboard_app(pool, bus)):
            yield url, token, pool, bus
    finally:
        await pool.close()


async def test_a_breach_appears_live_and_the_charts_render(
    site: tuple[str, str, asyncpg.Pool, AcceptingBus],
) -> None:
    url, token, pool, bus = site
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{url}/dashboard#token={token}")
        assert await page.title() == "社区吹哨 · 督办看板"
        await page.wait_for_selector("#live:not(.off)", timeout=10_000)
        await page.wait_for_selector("#rates-chart svg rect", timeout=10_000)
        await page.wait_for_selector("#trend-chart svg path.line", timeout=10_000)
        assert await page.locator("#breaches tr").count() == 0
        banner = page.locator("#calendar-banner")
        await banner.wait_for(state="visible", timeout=10_000)
        assert "2027 年的安排尚未导入" in await banner.inner_text()
        assert "还剩 30 天" in await banner.inner_text()
        assert "占道经营应由城管处理" in await page.inner_text("#disputes")
        # 回访 scores 5 when satisfied, 2 when not: six and two of the eight → 34/8; transport
        # has one callback, unsatisfied
        assert await page.inner_text("#k-score") == "4.25"
        ranked = page.locator("#ranking tr", has_text="交通运输局")
        assert (await ranked.locator("td").nth(6).inner_text()) == "2.00"

        async with pool.acquire() as conn:
            await dashboard_data.breach(conn, "WH-DEMO-10", "public_security")
        row = page.locator("#breaches tr", has_text="WH-DEMO-10")  # pushed over SSE
        await row.wait_for(timeout=15_000)
        assert "公安分局" in await row.inner_text()
        assert "催办" in await row.inner_text()
        assert await page.inner_text("#k-breaches") == "1"
        escalation = page.locator("#escalations tr", has_text="WH-DEMO-10")
        assert "街道催办" in await escalation.inner_text()
        assert await page.inner_text("#k-escalated") == "1"

        async with pool.acquire() as conn:  # 集结: 城管 is there, 交通 not yet
            story = await dashboard_data.joint_action(
                conn, "WH-DEMO-11", ["urban_management", "transport"]
            )
        gathering = page.locator("#joint-actions tr", has_text="WH-DEMO-11")
        await gathering.wait_for(timeout=3_000)
        text = await gathering.inner_text()
        assert "滨海浪漫线金海段" in text and "待报到：交通" in text, text
        assert await gathering.locator(".tag.reported").count() == 1
        async with pool.acquire() as conn:
            await dashboard_data.report_in(conn, story, "transport")
        await gathering.locator("td", has_text="已到齐").wait_for(timeout=3_000)
        assert await gathering.locator(".tag.reported").count() == 2
        await page.wait_for_timeout(300)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

        dispute = page.locator("#disputes tr", has_text="WH-DEMO-09")
        await dispute.locator("select").select_option("urban_management")
        await dispute.locator("button").click()
        await dispute.locator(".outcome", has_text="已裁定").wait_for(timeout=5_000)
        [ruling] = bus.commands
        assert (ruling.type, ruling.case_id) == ("RuleOnDispute", "WH-DEMO-09")
        assert (ruling.department, ruling.outcome) == ("transport", "reassign")
        assert ruling.new_department == "urban_management"

        await page.goto(f"{url}/dashboard?lang=en")
        await page.wait_for_selector("#breaches tr", timeout=5_000)
        assert "Public Security Bureau" in await page.inner_text("#breaches")
        assert "Assembled" in await page.inner_text("#joint-actions")
        assert await page.inner_text("#lang") == "中文"
        await page.locator("#calendar-banner").wait_for(state="visible", timeout=5_000)
        english = await page.inner_text("#calendar-banner")
        assert "Holiday calendar" in english and "2027 is not imported yet" in english
