"""The department liaison's pages in headless Chromium on a desktop, over the real service
(worker, projector and API processes on Kafka and PostgreSQL): the demo liaison ``urban`` logs
in, finds a routed case in his inbox, signs for it in one tap, is refused a 退单 without a
reason beside the field, records a contact, reports progress with a photo (shown on the page
as its thumbnail) and resolves the case. axe-core checks each page
(no serious or critical violation); the inbox is checked at 390 px as well; each page is
photographed into docs/screenshots/liaison-*.png."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.browser import DESKTOP, GRID, PHONE, check, chromium, resolve_case, signed_in
from tests.stack import Stack, eventually
from tests.unit.test_photos import phone_photo

pytestmark = pytest.mark.e2e


async def test_the_demo_liaison_signs_for_and_resolves_a_case(
    service: tuple[Stack, dict[str, str]], api: httpx.Client
) -> None:
    stack, passwords = service
    url = stack.base
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
    async with chromium() as browser:
        page = await signed_in(browser, url, "urban", passwords["urban"], DESKTOP)
        await page.get_by_role("link", name="待办案件").click()
        await page.wait_for_url(f"{url}/liaison")
        row = page.locator(f"#case-{case_id}")
        assert "新派单" in await row.inner_text()
        assert "签收 · 剩" in await row.inner_text()
        await check(page, "liaison-inbox", DESKTOP["width"])

        phone = await signed_in(browser, url, "urban", passwords["urban"], PHONE)  # a phone too
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
        await check(page, None, DESKTOP["width"])  # photographed below, with its photo

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

        photo = {"name": "work.jpg", "mimeType": "image/jpeg", "buffer": phone_photo()}
        await page.locator("#f-progress-note").fill("已到场，正在劝离违停车辆")
        await page.set_input_files("#f-progress-photos", files=[photo])
        await page.locator("#do-progress").click()
        await page.wait_for_selector("#act-progress .notice")
        thumb = page.get_by_alt_text("办理中照片 1")
        await thumb.wait_for()
        await page.wait_for_function(
            "document.querySelector('#case-photos img').naturalWidth > 0"
        )  # the thumbnail is served to the liaison
        assert "已到场，正在劝离违停车辆" in await page.inner_text("#log")
        assert [(a["stage"], a["department"]) for a in case()["attachments"]] == [
            ("progress", "urban_management")
        ]
        await check(page, "liaison-case", DESKTOP["width"])

        await resolve_case(page, "违停车辆已劝离，设置隔离桩")
        await check(page, "liaison-resolved", DESKTOP["width"])
        assert case()["status"] == "resolved"
