"""People's pages in headless Chromium on a 390×844 phone: log in as a demo user, home in
Chinese, English by the switch, change the password, log out, lockout after failures; the
admin's user pages; the notification settings (which kinds are received) and a department's
defaults; the 403 page. axe-core checks each page (no serious or critical violation) and each
page is photographed into docs/screenshots/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import uvicorn

from projections.migrate import migrate
from tests.e2e.browser import PHONE, PORT, check, chromium, log_in, signed_in
from tests.e2e.test_dashboard_browser import AcceptingBus
from tests.service_fixtures import free_port
from whistle.api.account_store import PgIdempotency, PgUsers, migrate_api
from whistle.api.app import create_app
from whistle.api.deps import Services
from whistle.notify.inbox import Inbox, ensure_schema
from whistle.notify.notifier_store import NotifierStore
from whistle.read.gateway import PgRead
from whistle.service.cli import _demo_logins, _demo_users
from whistle.settings import Settings
from whistle.web.accounts import PgAccounts
from whistle.webhooks.secretbox import secret_box

pytestmark = pytest.mark.e2e


async def _no_probe() -> None:
    return None


@pytest.fixture
async def site(fresh_database: str, tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """The app with its pages over a fresh database, served by uvicorn; the demo people made
    by ``whistle run --demo``'s own code (username → printed password)."""
    settings = Settings(database_url=fresh_database, state_dir=tmp_path)
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=6)
    async with pool.acquire() as conn:
        await migrate(conn)
        await migrate_api(conn)
        await ensure_schema(conn)
    await _demo_users(settings)
    passwords = await _demo_logins(settings)
    services = Services(
        bus=AcceptingBus(),
        read=PgRead(pool),
        users=PgUsers(pool, 0.0),
        idempotency=PgIdempotency(pool),
        kafka_probe=_no_probe,
        accounts=PgAccounts(pool),  # the production Argon2 cost and lockout (5 failures)
        notifier=NotifierStore(pool, secret_box(settings)),  # as the demo sealed its addresses
        inbox=Inbox(pool),  # the navigation's 通知 link, as in production
    )
    app = create_app(settings, services)
    port = PORT or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", passwords
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        await pool.close()


async def test_a_secretary_logs_in_on_a_phone_switches_language_and_changes_password(
    site: tuple[str, dict[str, str]],
) -> None:
    url, passwords = site
    async with chromium() as browser:
        context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = await context.new_page()
        await page.goto(f"{url}/")
        assert page.url == f"{url}/login?next=%2F"
        assert await page.title() == "登录 · 社区吹哨"
        await check(page, "login")

        await log_in(page, url, "jinhai", passwords["jinhai"])
        await page.wait_for_url(f"{url}/")
        assert await page.inner_text("h1") == "我的工作台"
        assert await page.inner_text("#my-role") == "社区书记"
        assert await page.inner_text("#my-scope") == "金海社区"
        assert "金海社区书记" in await page.inner_text("#who")
        await check(page, "home")

        await page.locator("#switch-language").click()
        await page.wait_for_selector("h1:text('My workspace')")
        assert await page.inner_text("#my-scope") == "Jinhai Community"
        assert await page.get_attribute("html", "lang") == "en"
        await check(page, "home-en")

        await page.get_by_role("link", name="Change password").click()
        await page.get_by_label("Current password").fill("not-my-password-1")
        await page.get_by_label("New password", exact=True).fill("Harbour-walk-2027")
        await page.get_by_label("New password again").fill("Harbour-walk-2027")
        await page.locator("#password-button").click()
        error = page.locator("#e-old_password")
        assert await error.inner_text() == "The current password is wrong."
        assert await page.get_attribute("#f-old_password", "aria-invalid") == "true"
        await page.locator("#switch-language").click()  # the form in Chinese for the shot
        await page.get_by_label("当前密码").fill(passwords["jinhai"])
        await page.get_by_label("新密码", exact=True).fill("short")
        await page.get_by_label("再次输入新密码").fill("short")
        await page.locator("#password-button").click()
        assert await page.inner_text("#e-new_password") == "密码至少需要 10 个字符。"
        await check(page, "password-errors")
        await page.get_by_label("当前密码").fill(passwords["jinhai"])
        await page.get_by_label("新密码", exact=True).fill("Harbour-walk-2027")
        await page.get_by_label("再次输入新密码").fill("Harbour-walk-2027")
        await page.locator("#password-button").click()
        await page.wait_for_selector("#password-changed")
        await check(page, "password-changed")

        await page.locator("#logout").click()
        await page.wait_for_url(f"{url}/login?bye=1")
        assert "您已退出登录" in await page.inner_text("main")
        await page.goto(f"{url}/")
        assert page.url.startswith(f"{url}/login")  # the session is gone on the server

        await log_in(page, url, "jinhai", "Harbour-walk-2027")  # the new password works
        await page.wait_for_url(f"{url}/")
        await page.locator("#logout").click()
        await page.wait_for_url(f"{url}/login?bye=1")

        for _ in range(5):  # the fifth failure locks the account
            await log_in(page, url, "jinhai", "guessing-1234")
        message = await page.inner_text("#e-password")
        assert message == "登录失败次数过多，已暂时锁定：请在 15 分钟后再试。", message
        await log_in(page, url, "jinhai", "Harbour-walk-2027")
        assert "15 分钟" in await page.inner_text("#e-password")
        await check(page, "login-locked")

        await log_in(page, url, "police", passwords["police"])  # a liaison is not an admin
        await page.wait_for_url(f"{url}/")
        await page.goto(f"{url}/admin/users")
        assert "您的角色（部门联络员）不能访问此页面" in await page.inner_text("main")
        await check(page, "forbidden")


async def test_an_admin_creates_a_user_and_resets_a_password(
    site: tuple[str, dict[str, str]],
) -> None:
    url, passwords = site
    async with chromium() as browser:
        page = await browser.new_page(viewport=PHONE)
        await log_in(page, url, "admin", passwords["admin"])
        await page.wait_for_url(f"{url}/")
        await page.get_by_role("link", name="用户管理").click()
        await page.wait_for_selector("#user-demo-secretary-jinhai")
        await check(page, "users")

        await page.locator("#new-user").click()
        await page.get_by_label("用户编号").fill("sec-yunxi")
        await page.get_by_label("用户名").fill("yunxi")
        await page.get_by_label("姓名").fill("芸溪社区书记")
        await page.get_by_label("角色").select_option("secretary")
        await page.get_by_label("辖区代码").fill("tongan")
        await page.locator("#create-user").click()
        assert "不是该角色可用的辖区" in await page.inner_text("#e-area")
        await check(page, "user-new-errors")
        await page.get_by_label("辖区代码").fill("tongan.datong.yunxi")
        await page.locator("#create-user").click()
        created = await page.inner_text("#new-password")
        await check(page, "user-created")

        await page.goto(f"{url}/admin/users")
        await page.get_by_role("button", name="重置密码 demo-liaison-urban").click()
        reset = await page.inner_text("#new-password")
        assert reset != created and len(reset) == 19

        other = await browser.new_page(viewport=PHONE)
        await log_in(other, url, "yunxi", created)
        await other.wait_for_url(f"{url}/password")  # a given password must change first
        assert "请先改为只有您知道的密码" in await other.inner_text("main")
        third = await browser.new_page(viewport=PHONE)  # a browser of its own
        await log_in(third, url, "urban", reset)
        await third.wait_for_url(f"{url}/password")


async def test_a_liaison_chooses_which_notifications_and_an_admin_sets_a_departments(
    site: tuple[str, dict[str, str]],
) -> None:
    url, passwords = site
    async with chromium() as browser:
        admin = await signed_in(browser, url, "admin", passwords["admin"], PHONE)
        await admin.get_by_role("link", name="部门通知默认").click()
        await admin.get_by_role("link", name="修改 城市管理局（城管）").click()
        await admin.get_by_label("临近时限提醒（50%、80%）").uncheck()
        await admin.locator("#kinds-save").click()
        await admin.wait_for_selector("#kinds-saved")
        await check(admin, "notify-department")
        await admin.goto(f"{url}/admin/notifications/departments")
        row = await admin.inner_text("#department-urban_management")
        assert "临近时限提醒" in row
        await check(admin, "notify-departments")

        page = await signed_in(browser, url, "urban", passwords["urban"], PHONE)
        await page.get_by_role("link", name="通知设置").click()
        reminders = page.get_by_label("临近时限提醒（50%、80%）")
        assert not await reminders.is_checked()
        assert "本部门默认" in await page.inner_text("#kinds")
        await page.get_by_label("新派单").uncheck()
        await page.locator("#kinds-save").click()
        await page.wait_for_selector("#kinds-saved")
        assert not await page.get_by_label("新派单").is_checked()
        assert await page.get_by_label("超时").is_checked()
        await check(page, "notify-kinds")
        await page.locator("#switch-language").click()
        await page.wait_for_selector("text=Which notifications you receive")
        assert not await page.get_by_label("New assignment").is_checked()
        await page.locator("#switch-language").click()

        boss = await signed_in(browser, url, "tongan", passwords["tongan"], PHONE)
        await boss.goto(f"{url}/settings/notifications")
        escalations = boss.get_by_label("催办、督办、通报")
        assert await escalations.is_checked() and await escalations.is_disabled()
        assert "督办人员不能关闭" in await boss.inner_text("#kinds")
