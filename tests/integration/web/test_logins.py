"""People log in with a username and password: lockout, password changes and resets,
revocation, language, cookies — on the real database."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.integration.web.conftest import PASSWORD, PEOPLE, Site, submit

pytestmark = pytest.mark.integration

SECRETARY = PEOPLE["secretary"][0]


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await submit(client, "/login", {"username": username, "password": password})


def _error_of(html: str, field: str) -> str:
    """The error shown beside ``field`` (its input marked aria-invalid), or ''."""
    found = re.search(rf'<p class="error" id="e-{field}" role="alert">([^<]*)</p>', html)
    if found:
        assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', html, re.S), html
    return found.group(1) if found else ""


async def test_a_person_logs_in_sees_their_home_and_logs_out(site: Site) -> None:
    async with site.client() as client:
        response = await client.get("/")
        assert (response.status_code, response.headers["location"]) == (303, "/login?next=%2F")
        login = await _login(client, SECRETARY, PASSWORD)
        assert (login.status_code, login.headers["location"]) == (303, "/")
        cookie = login.headers["set-cookie"]
        assert "whistle_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain http here
        home = await client.get("/")
        assert home.status_code == 200
        assert "金海社区" in home.text and "社区书记" in home.text and 'lang="zh-CN"' in home.text
        stolen = client.cookies["whistle_session"]
        out = await submit(client, "/logout", {}, page="/")
        assert out.headers["location"] == "/login?bye=1"
    async with site.client() as replay:  # the cookie is dead on the server, not just deleted
        replay.cookies.set("whistle_session", stolen)
        assert (await replay.get("/")).status_code == 303


async def test_the_session_cookie_is_secure_over_https(site: Site) -> None:
    transport = httpx.ASGITransport(app=site.app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://web") as client:
        login = await _login(client, SECRETARY, PASSWORD)
        assert "Secure" in login.headers["set-cookie"]


async def test_five_wrong_passwords_lock_the_account_with_the_time_to_wait(site: Site) -> None:
    async with site.client() as client:  # the site's limit: 3 failures per account
        for _ in range(2):
            wrong = await _login(client, SECRETARY, "wrong-password-1")
            assert _error_of(wrong.text, "password") == "用户名或密码错误。"
        third = await _login(client, SECRETARY, "wrong-password-1")
        assert (
            _error_of(third.text, "password")
            == "登录失败次数过多，已暂时锁定：请在 15 分钟后再试。"
        )
        right = await _login(client, SECRETARY, PASSWORD)  # locked means locked
        assert right.status_code == 422 and "15 分钟" in right.text
        client.cookies.set("whistle_lang", "en")
        english = await _login(client, SECRETARY, PASSWORD)
        assert "Too many failed logins; locked for now: try again in 15 min." in english.text
        other = await _login(client, PEOPLE["liaison"][0], PASSWORD)  # the account, not all
        assert other.status_code == 303
    await site.pool.execute("UPDATE api.login_throttle SET locked_until = now() - interval '1s'")
    async with site.client() as client:
        assert (await _login(client, SECRETARY, PASSWORD)).status_code == 303


async def test_a_success_clears_the_accounts_failures(site: Site) -> None:
    async with site.client() as client:
        for _ in range(2):
            await _login(client, SECRETARY, "wrong-password-1")
        assert (await _login(client, SECRETARY, PASSWORD)).status_code == 303
    async with site.client() as client:
        for _ in range(2):
            await _login(client, SECRETARY, "wrong-password-1")
        assert (await _login(client, SECRETARY, PASSWORD)).status_code == 303


async def test_many_failures_from_one_address_lock_the_address(site: Site) -> None:
    async with site.client() as client:  # the site's limit: 8 per address
        for number in range(8):
            await _login(client, f"guess-{number}", "wrong-password-1")
        refused = await _login(client, PEOPLE["admin"][0], PASSWORD)
        assert "15 分钟" in _error_of(refused.text, "password")


async def test_an_unknown_username_reads_as_a_wrong_password(site: Site) -> None:
    async with site.client() as client:
        unknown = await _login(client, "nobody", PASSWORD)
        wrong = await _login(client, SECRETARY, "wrong-password-1")
        assert _error_of(unknown.text, "password") == _error_of(wrong.text, "password")
        assert 'value="nobody"' in unknown.text  # the username stays in its field
        empty = await _login(client, "", "")
        assert _error_of(empty.text, "username") == "请填写此项。"


async def test_changing_the_password_needs_the_old_one_and_ends_other_sessions(
    site: Site,
) -> None:
    other_device = await site.login("secretary")
    async with site.session("secretary") as client:

        async def change(old: str, new: str, again: str | None = None) -> httpx.Response:
            body = {"old_password": old, "new_password": new, "new_password_again": again or new}
            return await submit(client, "/password", body, page="/password")

        wrong = await change("not-it-1234", "Another-pass-99")
        assert _error_of(wrong.text, "old_password") == "当前密码不正确。"
        assert _error_of((await change(PASSWORD, "short1")).text, "new_password") == (
            "密码至少需要 10 个字符。"
        )
        assert "字母和数字" in _error_of(
            (await change(PASSWORD, "onlyletters!")).text, "new_password"
        )
        assert "用户名" in _error_of(
            (await change(PASSWORD, f"{SECRETARY}-99")).text, "new_password"
        )
        differ = await change(PASSWORD, "Another-pass-99", "Another-pass-98")
        assert _error_of(differ.text, "new_password_again") == "两次输入的新密码不一致。"
        done = await change(PASSWORD, "Another-pass-99")
        assert done.headers["location"] == "/password?done=1"
        assert (await client.get("/")).status_code == 200  # this session stays
    assert (await other_device.get("/")).status_code == 303  # the other one ended
    await other_device.aclose()
    async with site.client() as client:
        assert (await _login(client, SECRETARY, PASSWORD)).status_code == 422
        assert (await _login(client, SECRETARY, "Another-pass-99")).status_code == 303
    kinds = await site.pool.fetch("SELECT kind FROM audit.entries WHERE subject = $1", SECRETARY)
    assert "user.password_changed" in {r["kind"] for r in kinds}


async def test_an_admin_resets_a_password_shown_once_and_changed_at_the_next_login(
    site: Site,
) -> None:
    victim = await site.login("secretary")
    async with site.session("admin") as admin:
        reset = await submit(admin, f"/admin/users/{SECRETARY}/password", {}, page="/admin/users")
        assert reset.status_code == 200 and reset.headers["cache-control"] == "no-store"
        password = re.search(r'<code id="new-password">([^<]+)</code>', reset.text)
        assert password, reset.text
    assert (await victim.get("/")).status_code == 303  # their sessions ended
    await victim.aclose()
    async with site.client() as client:
        login = await _login(client, SECRETARY, password.group(1))
        assert login.headers["location"] == "/password"
        assert (await client.get("/")).headers["location"] == "/password"  # until changed
        page = await client.get("/password")
        assert "请先改为只有您知道的密码" in page.text
        body = {"old_password": password.group(1), "new_password": "Mine-only-2027"}
        done = await submit(
            client,
            "/password",
            body | {"new_password_again": body["new_password"]},
            page="/password",
        )
        assert done.status_code == 303
        assert (await client.get("/")).status_code == 200
    kinds = await site.pool.fetch(
        "SELECT actor, kind FROM audit.entries WHERE subject = $1", SECRETARY
    )
    assert ("admin", "user.password_reset") in {(r["actor"], r["kind"]) for r in kinds}


async def test_the_reset_api_answers_the_password_once_for_admins(site: Site) -> None:
    async with site.client() as client:
        headers = {"Authorization": f"Bearer {site.tokens['admin']}"}
        answer = await client.post("/v1/users/victim/password", headers=headers)
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        body = answer.json()
        assert body["username"] == "victim"  # a token user gets their id as username
        assert (await _login(client, "victim", body["password"])).headers["location"] == "/password"
        missing = await client.post("/v1/users/nobody/password", headers=headers)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


async def test_a_revoked_user_is_logged_out_at_once_and_cannot_log_in(site: Site) -> None:
    victim = await site.login("liaison")
    async with site.session("admin") as admin:
        revoked = await submit(
            admin, f"/admin/users/{PEOPLE['liaison'][0]}/revoke", {}, page="/admin/users"
        )
        assert revoked.headers["location"] == f"/admin/users?revoked={PEOPLE['liaison'][0]}"
        listing = await admin.get(revoked.headers["location"])
        assert "已吊销" in listing.text
    assert (await victim.get("/")).status_code == 303
    await victim.aclose()
    async with site.client() as client:
        assert (await _login(client, PEOPLE["liaison"][0], PASSWORD)).status_code == 422
        token = {"Authorization": f"Bearer {site.tokens['liaison']}"}
        assert (await client.get("/v1/inbox", headers=token)).status_code == 200  # its own token


async def test_an_admin_creates_a_person_with_errors_beside_the_fields(site: Site) -> None:
    async with site.session("admin") as admin:

        async def create(**values: str) -> httpx.Response:
            return await submit(admin, "/admin/users", values, page="/admin/users/new")

        bad = await create(user_id="Bad Id", username="x", role="secretary", area="tongan")
        assert "小写字母" in _error_of(bad.text, "user_id")
        assert "不是该角色可用的辖区" in _error_of(bad.text, "area")
        liaison = await create(user_id="li-x", username="li-x", role="liaison", department="nope")
        assert _error_of(liaison.text, "department") == "没有部门 nope。"
        exists = await create(user_id="admin", username="admin2", role="admin")
        assert _error_of(exists.text, "user_id") == "用户编号或用户名已存在。"
        made = await create(
            user_id="sec-yunxi", username="yunxi", name="芸溪书记", role="secretary",
            area="tongan.datong.yunxi",
        )  # fmt: skip
        assert made.status_code == 201
        password = re.search(r'<code id="new-password">([^<]+)</code>', made.text)
        assert password
    async with site.client() as client:
        login = await _login(client, "yunxi", password.group(1))
        assert login.headers["location"] == "/password"


async def test_the_language_switch_is_kept_in_a_cookie_and_as_the_users_preference(
    site: Site,
) -> None:
    async with site.client() as client:
        switched = await submit(client, "/lang", {"lang": "en", "next": "/login"})
        assert switched.headers["location"] == "/login"
        assert 'lang="en"' in (await client.get("/login")).text
    async with site.session("supervisor") as client:
        await submit(client, "/lang", {"lang": "en", "next": "/"}, page="/")
        home = await client.get("/")
        assert "Supervisor" in home.text and "Tong&#39;an District" in home.text, home.text
    async with site.session("supervisor") as fresh:  # another browser: the preference
        assert 'lang="en"' in (await fresh.get("/")).text


async def test_only_local_paths_are_followed_after_login(site: Site) -> None:
    for target, expected in (("/admin/users", "/admin/users"), ("//evil.example/", "/"),
                             ("https://evil.example/", "/"), ("/\\evil.example", "/")):  # fmt: skip
        async with site.client() as client:
            body = {"username": SECRETARY, "password": PASSWORD, "next": target}
            response = await submit(client, "/login", body)
            assert response.headers["location"] == expected


async def test_a_malformed_link_gets_the_error_page_in_the_visitors_language(site: Site) -> None:
    """A page's path or query that does not validate answers the error page (404 for a path,
    422 for a query) with a message, never the API's JSON; the API keeps problem+json."""
    async with site.client() as client:
        await _login(client, PEOPLE["liaison"][0], PASSWORD)
        path = await client.get(f"/liaison/cases/{'X' * 65}")  # longer than any case id
        assert path.status_code == 404, path.text
        assert path.headers["content-type"].startswith("text/html")
        assert "没有这个页面" in path.text
        query = await client.get("/notifications/stream?after=abc")
        assert query.status_code == 422, query.text
        assert query.headers["content-type"].startswith("text/html")
        assert "链接中的参数无效" in query.text
        await submit(client, "/lang", {"lang": "en", "next": "/"}, page="/password")
        english = await client.get(f"/liaison/cases/{'X' * 65}")
        assert english.status_code == 404 and "No such page" in english.text
        api = await client.get(f"/v1/cases/{'X' * 65}", headers={"Authorization": "Bearer x"})
        assert api.headers["content-type"].startswith("application/problem+json"), api.text
