"""What the browser tests share: Debian's Chromium under Playwright, the viewports, the whole
service with the demo people, logging in through the form, the axe-core check of a page,
waiting for the projections by reloading, and the steps several tests take (办结, 回访, 晒事)."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unique_name
from tests.service_fixtures import free_port, settings_of
from tests.stack import JINHAI, Stack, running_stack, scratch_database
from whistle.service.cli import _demo_logins, _demo_users
from whistle.settings import REPO_ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = REPO_ROOT / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
PORT = int(os.environ.get("WHISTLE_E2E_WEB_PORT", "0"))
"""A fixed port for the served pages when set (shared machines assign ports), else a free one."""
GRID = f"{JINHAI}.g01"
"""The grid the browser tests raise in: its parking rule has 城管 lead, 公安 and 交通 support."""


def need_browser() -> Any:
    """Playwright's async API, or fail under CI / skip on a laptop without chromium."""
    required = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        if required:
            pytest.fail("playwright is not installed (pip install -e '.[dev]')")
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        if required:
            pytest.fail("chromium missing: run scripts/ensure-chromium.sh")
        pytest.skip("chromium missing: run scripts/ensure-chromium.sh")
    return async_playwright


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Headless Chromium for the block (closed afterwards, whatever happens)."""
    async with need_browser()() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def log_in(page: Any, url: str, username: str, password: str) -> None:
    """Fill the login form and send it."""
    await page.goto(f"{url}/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.locator("#login-button").click()


async def signed_in(
    browser: Any, url: str, username: str, password: str, viewport: dict[str, int], **options: Any
) -> Any:
    """A page in a browser context of its own, logged in as ``username``, at the home page."""
    page = await browser.new_page(viewport=viewport, **options)
    await log_in(page, url, username, password)
    await page.wait_for_url(f"{url}/")
    return page


async def check(page: Any, shot: str | None, width: int = PHONE["width"]) -> None:
    """No serious or critical axe-core violation, no horizontal scroll at ``width``; the page
    photographed into docs/screenshots/``shot``.png when a name is given."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{page.url}: {bad}"
    scrolled = await page.evaluate("document.documentElement.scrollWidth")
    assert scrolled <= width, f"{page.url} scrolls sideways: {scrolled}px"
    if shot:
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)


async def reloads_until(
    page: Any, address: str, probe: Callable[[Any], Awaitable[Any]], timeout_s: float = 60.0
) -> Any:
    """Load ``address`` until ``probe(page)`` answers something true; that answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        await page.goto(address)
        if result := await probe(page):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{address}: condition not met in time")
        await asyncio.sleep(0.5)


async def shows(page: Any, address: str, text: str, timeout_s: float = 60.0) -> None:
    """Reload ``address`` until its main part shows ``text`` (the projection catches up)."""

    async def shown(p: Any) -> bool:
        return text in await p.inner_text("main")

    try:
        await reloads_until(page, address, shown, timeout_s)
    except AssertionError:
        raise AssertionError(f"{address} does not show {text!r}") from None


async def resolve_case(page: Any, summary: str) -> None:
    """The lead's 办结 on its liaison case page (solved, ``summary``), until it says 已办结."""
    await page.get_by_label("办结结果").select_option("solved")
    await page.locator("#f-resolve-summary").fill(summary)
    await page.locator("#do-resolve").click()
    await page.wait_for_selector("#case-status:text('已办结')")


async def call_back(page: Any, address: str, comment: str, score: str = "5") -> None:
    """The secretary's 回访 on the case page at ``address`` (solved, satisfied, ``score``,
    ``comment``), until the page shows it."""
    await page.locator("#solved-yes").check()
    await page.locator("#satisfied-yes").check()
    await page.locator("#f-score").select_option(score)
    await page.locator("#f-comment").fill(comment)
    await page.locator("#record-callback").click()
    await shows(page, address, comment)


async def publish(page: Any, address: str, summary: str, photo: dict[str, Any]) -> None:
    """The secretary's 晒事 on the case page at ``address`` (``summary``, an after photo as
    Playwright's file payload), until the page shows it."""
    await page.locator("#f-summary").fill(summary)
    await page.set_input_files("#f-publish-photos", files=[photo])
    await page.locator("#publish-case").click()
    await shows(page, address, summary)


@contextmanager
def demo_service(
    kafka_bootstrap: str, database_url: str, tmp: Path, prefix: str
) -> Iterator[tuple[Stack, dict[str, str]]]:
    """The whole service (worker, projector, API) on fresh topics and database, with the demo
    people of ``whistle run --demo``; yields it and their username → printed password."""
    ports = {"WHISTLE_HTTP_PORT": str(PORT or free_port())}
    if PORT:
        ports["WHISTLE_WORKER_WEB_PORT"] = str(PORT + 3)
    with (
        scratch_database(database_url, prefix) as dsn,
        running_stack(tmp, kafka_bootstrap, dsn, unique_name(prefix), extra_env=ports) as s,
    ):
        settings = settings_of(s.env)
        asyncio.run(_demo_users(settings))
        yield s, asyncio.run(_demo_logins(settings))
