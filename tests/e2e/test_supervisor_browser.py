"""The supervisor's pages in headless Chromium on a desktop, over the real service (worker,
projector and API processes on Kafka and PostgreSQL): the demo supervisor ``tongan`` logs in,
opens his workspace from the home page, opens a disputed case from the list, is refused a
ruling without an outcome beside the field, rules the dispute, sees the metrics and drills
down, and downloads the CSV. axe-core checks each page (no serious or critical violation);
each page is photographed into docs/screenshots/supervisor-*.png."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.e2e.browser import DESKTOP, GRID, check, chromium, signed_in
from tests.stack import JINHAI, Stack, eventually

pytestmark = pytest.mark.e2e


async def test_the_demo_supervisor_rules_a_dispute_and_exports_the_metrics(
    service: tuple[Stack, dict[str, str]], api: httpx.Client
) -> None:
    stack, passwords = service
    url = stack.base
    raiser = {"Authorization": f"Bearer {stack.tokens['secretary']}"}
    liaison = {"Authorization": f"Bearer {stack.tokens['liaison']}"}
    reader = {"Authorization": f"Bearer {stack.tokens['supervisor']}"}
    body = {"category": "parking", "title": "滨海步道违停", "address": "金海社区滨海步道",
            "grid": GRID}  # fmt: skip
    raised = api.post("/v1/cases", json=body, headers=raiser)
    assert raised.status_code == 201, raised.text
    case_id = raised.json()["case_id"]

    def case() -> dict[str, Any]:
        got = api.get(f"/v1/cases/{case_id}", headers=reader)
        return got.json() if got.status_code == 200 else {}

    def events() -> list[str]:
        got = api.get(f"/v1/cases/{case_id}/timeline", headers=reader)
        return [e["type"] for e in got.json()["events"]] if got.status_code == 200 else []

    eventually(lambda: case().get("status") == "routed")
    disputed = api.post(f"/v1/cases/{case_id}/dispute", headers=liaison,
                        json={"reason": "wrong_function", "text": "不归城管"})  # fmt: skip
    assert disputed.status_code in (200, 201, 202), disputed.text
    eventually(lambda: "AssignmentDisputed" in events())
    async with chromium() as browser:
        page = await signed_in(
            browser, url, "tongan", passwords["tongan"], DESKTOP, accept_downloads=True
        )
        await page.get_by_role("link", name="督办工作台").click()
        await page.wait_for_url(f"{url}/supervisor")
        assert case_id in await page.inner_text("#h-disputes + ul")
        await check(page, "supervisor", DESKTOP["width"])

        await page.locator(f"#case-{case_id} a").click()
        await page.wait_for_url(f"{url}/supervisor/cases/{case_id}")
        assert "退单" in await page.inner_text("#log")
        await check(page, "supervisor-case", DESKTOP["width"])

        await page.locator("#f-ruling-reason").fill("属城管职责")
        await page.locator("#do-ruling").click()  # no outcome chosen
        await page.locator("#e-ruling-outcome").wait_for()
        assert await page.get_attribute("#f-ruling-outcome", "aria-invalid") == "true"
        assert "DisputeRuled" not in events()

        await page.get_by_label("裁定结果").select_option("uphold")
        await page.locator("#do-ruling").click()
        await page.wait_for_selector("#act-ruling.notice, #act-ruling .notice")
        assert "退单裁定" in await page.inner_text("#log")
        assert "DisputeRuled" in events()

        await page.goto(f"{url}/supervisor")
        await page.get_by_role("link", name="考核指标").click()
        await page.wait_for_url(f"{url}/supervisor/metrics")
        await page.get_by_role("link", name="大同街道").click()  # drill into the street
        await page.wait_for_selector("#metrics")
        assert "金海" in await page.inner_text("#metrics")
        await check(page, "supervisor-metrics", DESKTOP["width"])
        async with page.expect_download() as info:
            await page.locator("#export-csv").click()
        download = await info.value
        saved = await download.path()
        rows = list(csv.reader(io.StringIO(saved.read_text("utf-8-sig"))))
        line = next(r for r in rows[1:] if r[0] == JINHAI)
        assert int(line[2]) >= 1, rows  # 派单数 of 金海
