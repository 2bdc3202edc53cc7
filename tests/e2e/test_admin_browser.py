"""The administrator's pages in headless Chromium on a desktop, over the real service (worker,
projector and API processes on Kafka and PostgreSQL): the demo admin opens the configuration
(the versions, the routing rules' draft, its preview with the owner that changes, the draft's
what-if over the demo's history and its report to forward), registers a department's webhook
endpoint, sees its signing secret once and opens its deliveries; the demo secretary, on a
phone, sets an e-mail and quiet hours on the notification settings page after a bad e-mail is
refused beside the field. axe-core checks each page (no serious or critical violation) and
each page is photographed into docs/screenshots/ (admin-*, notify-settings*)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.browser import DESKTOP, PHONE, check, chromium, signed_in
from tests.stack import Stack, eventually

pytestmark = pytest.mark.e2e

RULE = "tongan.datong.jinhai.parking"
HOOK = "https://cg.example.gov.cn/whistle/hook"


def _moved(draft: str) -> str:
    """The routing draft with 金海's parking rule led by another department."""
    document = json.loads(draft)
    rules = document["rules"] if isinstance(document, dict) else document
    ours = next(r for r in rules if r["id"] == RULE)
    ours["lead"] = "public_security" if ours["lead"] == "urban_management" else "urban_management"
    ours["supporting"] = []
    return json.dumps(document, ensure_ascii=False, indent=2)


async def test_the_admin_previews_a_routing_draft_and_registers_a_webhook_endpoint(
    service: tuple[Stack, dict[str, str]], api: httpx.Client
) -> None:
    stack, passwords = service
    url = stack.base
    raiser = {"Authorization": f"Bearer {stack.tokens['secretary']}"}
    body = {"category": "parking", "title": "金海路口违停", "address": "金海社区金海路口"}
    raised = api.post("/v1/cases", json=body, headers=raiser)
    assert raised.status_code == 201, raised.text
    case_id = raised.json()["case_id"]
    eventually(
        lambda: api.get(f"/v1/cases/{case_id}", headers=raiser).json().get("status") == "routed"
    )
    async with chromium() as browser:
        page = await signed_in(browser, url, "admin", passwords["admin"], DESKTOP)
        await page.get_by_role("link", name="配置管理").click()
        await page.wait_for_url(f"{url}/admin/config")
        assert "现行版本：第" in await page.inner_text("#in-force")
        await check(page, "admin-config", DESKTOP["width"])

        await page.locator("#kind-routing").click()
        await page.wait_for_url(f"{url}/admin/config/routing")
        draft = page.locator("#f-document_routing")
        await check(page, "admin-config-routing", DESKTOP["width"])
        await draft.fill(_moved(await draft.input_value()))
        await page.locator("#preview").click()
        await page.wait_for_url(f"{url}/admin/config/draft/preview")
        diff = await page.inner_text("#diff")
        assert "归属变化" in diff and "金海社区的" in diff and "牵头 " in diff, diff
        await check(page, "admin-config-preview", DESKTOP["width"])

        await page.locator("#run-whatif").click()
        await page.wait_for_url(f"{url}/admin/config/draft/whatif")
        summary = await page.inner_text("#whatif-summary")
        assert "0 件会改派" not in summary, summary  # the parking whistle above moves
        assert case_id in await page.inner_text("#whatif-moved")
        await check(page, "admin-config-whatif", DESKTOP["width"])
        async with page.context.expect_page() as opened:
            await page.locator("#whatif-report").click()
        report = await opened.value
        await report.wait_for_load_state()
        assert "三率" in await report.inner_text("body")
        await check(report, "admin-config-whatif-report", DESKTOP["width"])
        await report.close()

        await page.goto(f"{url}/")
        await page.get_by_role("link", name="Webhook 端点").click()
        await page.wait_for_url(f"{url}/admin/webhooks")
        await page.locator("#new-webhook").click()
        await page.get_by_label("部门", exact=True).select_option("urban_management")
        await page.get_by_label("接收地址（URL）").fill("cg.example.gov.cn/hook")
        await page.locator("#register-webhook").click()
        error = page.locator("#e-url")
        assert "有效的网址" in await error.inner_text()
        assert await page.get_attribute("#f-url", "aria-invalid") == "true"
        await check(page, "admin-webhook-new-error", DESKTOP["width"])
        await page.get_by_label("接收地址（URL）").fill(HOOK)
        await page.get_by_label("说明").fill("城管业务系统")
        await page.get_by_label("派单", exact=True).check()
        await page.get_by_label("超时", exact=True).check()
        await page.locator("#register-webhook").click()
        secret = await page.inner_text("#webhook-secret")
        assert secret.startswith("whsec_"), secret
        assert "仅显示这一次" in await page.inner_text("#secret-message")
        await check(page, "admin-webhook-secret", DESKTOP["width"])

        await page.locator("#back-to-webhooks").click()
        await page.wait_for_url(f"{url}/admin/webhooks")
        row = await page.locator("table.webhooks tbody tr").first.inner_text()
        assert HOOK in row and "派单、超时" in row and "启用" in row, row
        assert secret not in await page.content(), "the secret is shown once"
        await check(page, "admin-webhooks", DESKTOP["width"])
        await page.locator("table.webhooks tbody tr a").first.click()
        await page.wait_for_url(f"{url}/admin/webhooks/*")
        assert HOOK in await page.inner_text("main")
        await check(page, "admin-webhook-deliveries", DESKTOP["width"])
    listed = api.get("/v1/webhooks", headers={"Authorization": f"Bearer {stack.tokens['admin']}"})
    assert [e["url"] for e in listed.json()] == [HOOK], listed.text


async def test_a_secretary_sets_an_email_and_quiet_hours_on_her_phone(
    service: tuple[Stack, dict[str, str]],
) -> None:
    stack, passwords = service
    url = stack.base
    async with chromium() as browser:
        page = await signed_in(
            browser, url, "jinhai", passwords["jinhai"], PHONE, is_mobile=True, has_touch=True
        )
        await page.get_by_role("link", name="通知设置").click()
        await page.wait_for_url(f"{url}/settings/notifications")
        await page.get_by_label("电子邮箱").fill("jinhai@")
        await page.locator("#notify-save").click()
        error = page.locator("#e-email")
        await error.wait_for()
        assert await page.get_attribute("#f-email", "aria-invalid") == "true"
        await check(page, "notify-settings-error", PHONE["width"])

        await page.get_by_label("电子邮箱").fill("jinhai@tongan.example.gov.cn")
        await page.get_by_label("开始").fill("22:00")
        await page.get_by_label("结束").fill("07:00")
        await page.locator("#notify-save").click()
        await page.wait_for_selector("#notify-saved")
        assert await page.input_value("#f-email") == "jinhai@tongan.example.gov.cn"
        assert await page.input_value("#f-quiet_start") == "22:00"
        assert await page.input_value("#f-quiet_end") == "07:00"
        await check(page, "notify-settings", PHONE["width"])
