"""站内通知 in headless Chromium on a phone, over the real service (worker, projector and API
processes on Kafka and PostgreSQL): the demo liaison ``urban`` sees the unread badge on the
home page, opens the notifications, and a new one arrives while he looks — prepended to the
list with the badge counting it, without a reload (the page's SSE stream); 标为已读 answers in
place, 全部标为已读 empties the badge; a notification's link opens his case page; the English
switch. axe-core checks the page; it is photographed into docs/screenshots/notifications.png.
(The notifications are put in the inbox as the notifier's in-app channel puts them.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.browser import GRID, PHONE, check, chromium, signed_in
from tests.stack import Stack, eventually
from whistle.notify.inbox import Inbox
from whistle.notify.message import CaseFacts, Message

pytestmark = pytest.mark.e2e

LIAISON = "demo-liaison-urban"
TITLE = "滨海步道违停"


@asynccontextmanager
async def inbox_of(stack: Stack) -> AsyncIterator[Inbox]:
    """The service's inbox, over a pool of its database."""
    pool = await asyncpg.create_pool(stack.env["WHISTLE_DATABASE_URL"], min_size=1, max_size=2)
    try:
        yield Inbox(pool)
    finally:
        await pool.close()


def notice(case: CaseFacts, key: str, kind: str, **facts: Any) -> Message:
    """A notification of ``kind`` about ``case``, in Chinese, as the notifier writes it."""
    deadline = datetime.now(UTC) + timedelta(hours=2)
    link = f"https://whistle.example.gov.cn/cases/{case.case_id}"
    return Message.create(kind, case, link, deadline, key=key, **facts)  # type: ignore[arg-type]


async def test_a_new_notification_arrives_live_and_all_are_marked_read(
    service: tuple[Stack, dict[str, str]], api: httpx.Client
) -> None:
    stack, passwords = service
    url = stack.base
    raiser = {"Authorization": f"Bearer {stack.tokens['secretary']}"}
    body = {"category": "parking", "title": TITLE, "address": "金海社区滨海步道", "grid": GRID}
    raised = api.post("/v1/cases", json=body, headers=raiser)
    assert raised.status_code == 201, raised.text
    case = CaseFacts(raised.json()["case_id"], TITLE)
    reader = {"Authorization": f"Bearer {stack.tokens['supervisor']}"}
    eventually(
        lambda: (
            api.get(f"/v1/cases/{case.case_id}", headers=reader).json().get("status") == "routed"
        )
    )
    async with inbox_of(stack) as inbox, chromium() as browser:
        await inbox.add(LIAISON, notice(case, "ev-1:inapp", "assigned", role="lead"))
        await inbox.add(LIAISON, notice(case, "ev-2:inapp", "deadline_approaching",
                                        clock="ack", percent=50))  # fmt: skip
        page = await signed_in(browser, url, "urban", passwords["urban"], PHONE)
        assert await page.inner_text("#nav-unread .count") == "2"
        await page.locator("#nav-notifications").click()
        await page.wait_for_url(f"{url}/notifications")
        assert await page.locator("li.note.unread").count() == 2
        await page.evaluate("window.notReloaded = true")

        new = await inbox.add(
            LIAISON, notice(case, "ev-3:inapp", "escalated", step="supervision", tier="street")
        )
        item = page.locator(f"#n-{new.notification_id}")
        await item.wait_for(timeout=20_000)
        assert await page.locator("#notifications > li").first.get_attribute("id") == (
            f"n-{new.notification_id}"
        ), "prepended: the newest first"
        await page.wait_for_function(
            "document.querySelector('#nav-unread .count')?.textContent === '3'", timeout=20_000
        )
        assert await page.evaluate("window.notReloaded === true"), "no reload"
        assert "街道督办" in await item.inner_text()
        await check(page, "notifications", PHONE["width"])

        await page.locator(f"#read-{new.notification_id}").click()  # in place (htmx)
        await page.wait_for_selector(f"#read-{new.notification_id}", state="detached")
        await page.wait_for_function(
            "document.querySelector('#nav-unread .count')?.textContent === '2'", timeout=20_000
        )
        assert await page.evaluate("window.notReloaded === true"), "answered in place"

        await page.locator("#read-all").click()
        await page.wait_for_url(f"{url}/notifications?marked=all")
        assert await page.locator("#nav-unread .count").count() == 0
        assert await page.locator("li.note.unread").count() == 0
        assert "全部通知已标为已读" in await page.inner_text("#marked")
        await check(page, None, PHONE["width"])

        await page.locator("#switch-language").click()
        await page.wait_for_url(f"{url}/notifications")
        assert await page.locator("h1").inner_text() == "Notifications"
        await check(page, None, PHONE["width"])

        await page.locator(f"#n-{new.notification_id} a[href^='/liaison/cases/']").click()
        await page.wait_for_url(f"{url}/liaison/cases/{case.case_id}")
        assert TITLE in await page.inner_text("main")
