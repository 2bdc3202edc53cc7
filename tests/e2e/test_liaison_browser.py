"""The department liaison's pages in headless Chromium on a desktop, over the real service
(worker, projector and API processes on Kafka and PostgreSQL): the demo liaison ``urban`` logs
in, finds a routed case in his inbox, signs for it in one tap, is refused a 退单 without a
reason beside the field, records a contact and resolves the case. axe-core checks each page
(no serious or critical violation); the inbox is checked at 390 px as well; each page is
photographed into docs/screenshots/liaison-*.png."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.e2e.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, _need_browser
from tests.e2e.test_pages_browser import SHOTS, log_in
from tests.service_fixtures import free_port, settings_of
from tests.stack import JINHAI, Stack, running_stack, scratch_database
from whistle.service.cli import _demo_logins, _demo_users

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PORT = int(os.environ.get("WHISTLE_E2E_WEB_PORT", "0"))
"""A fixed port for the served pages when set (shared machines assign ports), else a free one."""
GRID = f"{JINHAI}.g01"  # the grid's rule: 城管 leads


@pytest.fixture(scope="module")
def service(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, dict[str, str]]]:
    """The whole service on fresh topics and database, with the demo people of ``whistle run
    --demo`` (username → printed password)."""
    tmp = tmp_path_factory.mktemp("liaison-e2e")
    ports = {"WHISTLE_HTTP_PORT": str(PORT or free_port())}
    if PORT:
        ports["WHISTLE_WORKER_WEB_PORT"] = str(PORT + 3)
    with (
        scratch_database(database_url, "liaisone2e") as dsn,
        running_stack(tmp, kafka_bootstrap, dsn, unique_name("liaisone2e"), extra_env=ports) as s,
    ):
        settings = settings_of(s.env)
        asyncio.run(_demo_users(settings))
        yield s, asyncio.run(_demo_logins(settings))


def eventually(probe: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (result := probe()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.3)
    return result


async def check(page: Any, shot: str, width: int) -> None:
    """No serious or critical axe-core violation, no horizontal scroll at ``width``; a shot."""
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
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)


async def test_the_demo_liaison_signs_for_and_resolves_a_case(
    service: tuple[Stack, dict[str, str]],
) -> None:
    async_playwright = _need_browser()
    stack, passwords = service
    url = stack.base
    api = httpx.Client(base_url=url, timeout=90)
    raiser = {"Authorization": f"Bearer {stack.tokens['secretary']}"}
    reader = {"Authorization": f"Bearer {stack.tokens['liaison']}"}  # 城管's token
    body = {"category": "parking", "title": "滨海步道违停", "address": "金海社区滨海步道",
            "grid": GRID}  # fmt: skip
    raised = api.post("/v1/cases", json=body, headers=raiser)
    assert raised.status_code == 201, raised.text
    case_id = raised.json()["case_id"]

    def case() -> dict[str, Any]:
        got = api.get(f"/v1/cases/{case_id}", headers=reader)
        return got.json() if got.status_code == 200 else {}

    eventually(lambda: case().get("status") == "routed")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport=DESKTOP)
            await log_in(page, url, "urban", passwords["urban"])
            await page.wait_for_url(f"{url}/")
            await page.get_by_role("link", name="待办案件").click()
            await page.wait_for_url(f"{url}/liaison")
            row = page.locator(f"#case-{case_id}")
            assert "新派单" in await row.inner_text()
            assert "签收 · 剩" in await row.inner_text()
            await check(page, "liaison-inbox", DESKTOP["width"])

            phone = await browser.new_page(viewport=PHONE)  # usable on a phone too
            await log_in(phone, url, "urban", passwords["urban"])
            await phone.wait_for_url(f"{url}/")
            await phone.goto(f"{url}/liaison")
            await check(phone, "liaison-inbox-phone", PHONE["width"])

            await page.locator(f"#ack-{case_id}").click()  # 签收 in one tap, in place
            await page.wait_for_selector(f"#ack-{case_id}", state="detached")
            assert page.url == f"{url}/liaison", "answered in place, no navigation"
            assert "新派单" not in await page.locator(f"#case-{case_id}").inner_text()
            clocks = case()["clocks"]
            ack = [k["status"] for k in clocks
                   if k["clock"] == "ack" and k["department"] == "urban_management"]  # fmt: skip
            assert ack == ["met"], clocks

            await page.get_by_role("link", name="办理 滨海步道违停").click()
            await page.wait_for_url(f"{url}/liaison/cases/{case_id}")
            assert "签收于" in await page.inner_text("#my-part")
            await check(page, "liaison-case", DESKTOP["width"])

            await page.get_by_label("说明").fill("我们认为不归城管")
            await page.locator("#do-dispute").click()  # no reason chosen
            error = page.locator("#e-dispute-reason")
            await error.wait_for()
            assert await page.get_attribute("#f-dispute-reason", "aria-invalid") == "true"
            await check(page, "liaison-dispute-error", DESKTOP["width"])
            assert not case()["assignments"][0]["disputed"]

            await page.get_by_label("方式").select_option("phone")
            await page.locator("#f-contact-note").fill("已电话联系居民，约定今天下午处理")
            await page.locator("#do-contact").click()
            await page.wait_for_selector("#act-contact .notice")
            assert "已电话联系居民" in await page.inner_text("#log")

            await page.get_by_label("办结结果").select_option("solved")
            await page.locator("#f-resolve-summary").fill("违停车辆已劝离，设置隔离桩")
            await page.locator("#do-resolve").click()
            await page.wait_for_selector("#case-status:text('已办结')")
            await check(page, "liaison-resolved", DESKTOP["width"])
            assert case()["status"] == "resolved"
        finally:
            await browser.close()
            api.close()
