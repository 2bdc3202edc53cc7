"""The community secretary's pages in headless Chromium on a phone (390×844), over the real
service (worker, projector and API processes on Kafka and PostgreSQL): the demo secretary
``jinhai`` logs in, sends an empty whistle form and sees each message beside its field, raises
a whistle with a photo, finds it routed on its case page and in her community's list, is shown
it as a likely duplicate when she starts a second similar whistle, and — once the lead
department (城管, through its API token) has signed for and resolved it — records the callback
and publishes the result with an after photo; a visitor without login then sees it on the 晒事
page and the case's public status page, without the resident's name, phone or address.
axe-core checks each page (no serious or critical violation), no page scrolls sideways, and
each is photographed into docs/screenshots/secretary-*.png (public-*.png)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.e2e.browser import (
    GRID,
    PHONE,
    call_back,
    check,
    chromium,
    publish,
    shows,
    signed_in,
)
from tests.stack import Stack, eventually
from tests.unit.test_photos import phone_photo

pytestmark = pytest.mark.e2e


async def test_the_demo_secretary_raises_follows_calls_back_and_publishes(
    service: tuple[Stack, dict[str, str]], api: httpx.Client
) -> None:
    stack, passwords = service
    url = stack.base
    lead = {"Authorization": f"Bearer {stack.tokens['liaison']}"}  # 城管 leads in the grid

    def case(case_id: str) -> dict[str, Any]:
        got = api.get(f"/v1/cases/{case_id}", headers=lead)
        return got.json() if got.status_code == 200 else {}

    async with chromium() as browser:
        page = await signed_in(browser, url, "jinhai", passwords["jinhai"], PHONE)
        await page.goto(f"{url}/whistle")
        await check(page, "secretary-whistle-form", PHONE["width"])

        await page.locator("#send-whistle").click()  # nothing filled in
        await page.locator("#e-category").wait_for()
        assert await page.get_attribute("#f-category", "aria-invalid") == "true"
        assert await page.locator("#e-address").count() == 1
        await check(page, "secretary-whistle-errors", PHONE["width"])

        await page.locator("#f-category").select_option("parking")
        await page.locator("#f-title").fill("滨海步道违停")
        await page.locator("#f-description").fill("多辆私家车长期停在步道入口，老人推车过不去")
        await page.locator("#f-grid").select_option(GRID)
        await page.locator("#f-address").fill("金海社区滨海步道入口")
        await page.locator("#f-requester_name").fill("林阿姨")
        await page.locator("#f-requester_phone").fill("13800000000")
        await page.set_input_files(
            "#f-photos",
            files=[{"name": "walk.jpg", "mimeType": "image/jpeg", "buffer": phone_photo()}],
        )
        await page.locator("#send-whistle").click()
        await page.wait_for_url(re.compile(r".*/cases/WH-[^/?]+\?raised=1$"))
        found = re.search(r"/cases/(WH-[^/?]+)", page.url)
        assert found, page.url
        case_id = found.group(1)
        eventually(lambda: case(case_id).get("status") == "routed")
        await page.goto(f"{url}/cases/{case_id}")
        assert "滨海步道违停" in await page.inner_text("main")
        await check(page, "secretary-case-routed", PHONE["width"])

        assert len(case(case_id).get("attachments") or []) == 1  # the photo, at raise

        await page.goto(f"{url}/cases")
        assert "滨海步道违停" in await page.inner_text("main")
        await check(page, "secretary-cases", PHONE["width"])

        # a second whistle about the same problem: the first is suggested as she types
        await page.goto(f"{url}/whistle")
        await page.locator("#f-title").fill("步道入口乱停车")
        await page.locator("#f-address").fill("金海社区滨海步道入口")
        await page.locator("#f-address").blur()
        await page.locator(f"#join-{case_id}").wait_for(timeout=15000)
        assert "可能是同一问题" in await page.inner_text("#duplicates")
        await check(page, "secretary-whistle-duplicates", PHONE["width"])

        acked = api.post(f"/v1/cases/{case_id}/acknowledge", json={}, headers=lead)
        assert acked.status_code == 200, acked.text
        done = api.post(
            f"/v1/cases/{case_id}/resolve",
            json={"outcome": "solved", "summary": "车辆已劝离，设置隔离桩"},
            headers=lead,
        )
        assert done.status_code == 200, done.text
        eventually(lambda: case(case_id).get("status") == "resolved")

        await page.goto(f"{url}/cases/{case_id}")
        await page.locator("#solved-yes").check()
        await page.locator("#satisfied-yes").check()
        await page.locator("#record-callback").click()  # no score yet
        await page.locator("#e-score").wait_for()
        await check(page, "secretary-callback-error", PHONE["width"])
        await call_back(page, f"{url}/cases/{case_id}", "处理很快")
        after = phone_photo(size=(800, 600))
        photo = {"name": "after.jpg", "mimeType": "image/jpeg", "buffer": after}
        summary = "滨海步道违停已清理，入口设置隔离桩。"
        await publish(page, f"{url}/cases/{case_id}", summary, photo)
        text = await page.inner_text("main")
        assert "处理很快" in text and "滨海步道违停已清理" in text, text[-800:]
        await check(page, "secretary-case-published", PHONE["width"])

        public = await browser.new_page(viewport=PHONE)  # nobody logged in
        await shows(public, f"{url}/public", "滨海步道违停已清理")
        await public.locator(f"#pub-{case_id} img").first.wait_for()
        await check(public, "public-results", PHONE["width"])
        await public.goto(f"{url}/public/cases/{case_id}")
        await check(public, "public-case-status", PHONE["width"])
        for shown_page in ("/public", f"/public/cases/{case_id}"):
            await public.goto(f"{url}{shown_page}")
            html = await public.content()
            for secret in ("林阿姨", "13800000000", "金海社区滨海步道入口", "多辆私家车"):
                assert secret not in html, (shown_page, secret)
