"""站内通知 for people logged in with the session cookie, on PostgreSQL: the list, newest first,
in the page's language with each notification in its own; the case link each role can open;
the navigation's unread badge on every page; 标为已读 and 全部标为已读 (plain forms and htmx),
refused without the CSRF token and for another user's notification; 显示更多; the stream
(uvicorn on a free port) brings a new one as the page's own HTML."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.integration.web.conftest import CSRF, PEOPLE, Site, csrf_of, submit
from tests.sse import events
from whistle.notify.message import CaseFacts, Message

pytestmark = pytest.mark.integration

CASE = CaseFacts("WH-20261203-7K3M9QX2PA", "滨海浪漫线游客激增")
EXTERNAL = f"https://whistle.example.gov.cn/v1/cases/{CASE.case_id}"
DEADLINE = datetime(2026, 12, 3, 6, 30, tzinfo=UTC)
BADGE = re.compile(r'<span id="nav-unread"[^>]*>(.*?)</span></a>', re.S)


def message(key: str, language: str = "zh", kind: str = "assigned") -> Message:
    """An assignment (or another kind) about ``CASE``, as the notifier writes it."""
    facts: dict[str, str | datetime] = {"role": "lead"}
    if kind == "joint_action_scheduled":
        facts = {"time": DEADLINE, "place": "浪漫线入口", "report_in": EXTERNAL}
    return Message.create(kind, CASE, EXTERNAL, DEADLINE, language, key=key, **facts)  # type: ignore[arg-type]


def badge(html: str) -> str:
    """The navigation's unread count as shown ("" when none)."""
    found = BADGE.search(html)
    assert found, html
    count = re.search(r'<span class="count" aria-hidden="true">([^<]+)</span>', found.group(1))
    return count.group(1) if count else ""


def user_of(role: str) -> str:
    return PEOPLE[role][0]


async def test_the_list_in_both_languages_with_each_roles_case_page(site: Site) -> None:
    liaison = user_of("liaison")
    older = await site.inbox.add(liaison, message("ev-1:li", "en"))
    newer = await site.inbox.add(liaison, message("ev-2:li"))
    await site.inbox.add(user_of("secretary"), message("ev-1:sec"))
    async with site.session("liaison") as client:
        page = await client.get("/notifications")
        assert page.status_code == 200
        html = page.text
        assert "<title>站内通知 · 社区吹哨</title>" in html
        assert html.index(f'id="n-{newer.notification_id}"') < html.index(
            f'id="n-{older.notification_id}"'
        ), "newest first"
        assert "新案件待签收（牵头（首接负责））" in html and "在期限前签收，并按职责办理" in html
        assert "2026年12月3日 14:30" in html  # the deadline as the notifier wrote it
        assert 'lang="en">New case for you (lead (first responsible))' in html  # its own language
        assert f'href="/liaison/cases/{CASE.case_id}"' in html and EXTERNAL not in html
        assert html.count('class="note unread"') == 2 and html.count(">标为已读</button>") == 2
        assert badge(html) == "2" and "（2 条未读）" in html
        assert 'sse-connect="/notifications/stream?after=' in html
        home = await client.get("/")
        assert badge(home.text) == "2" and 'href="/notifications"' in home.text
        assert "sse-connect" not in home.text, "only the notifications page listens"

        await submit(client, "/lang", {"lang": "en", "next": "/notifications"}, page="/")
        english = (await client.get("/notifications")).text
        assert "<title>Notifications · Whistle</title>" in english
        assert ">Mark read</button>" in english and ">Mark all read</button>" in english
        assert "Received" in english and "Deadline" in english and " (2 unread)" in english
        assert 'lang="zh-CN">新案件待签收' in english

    for role, href in (("secretary", "/cases/"), ("supervisor", "/supervisor/cases/")):
        await site.inbox.add(user_of(role), message(f"ev-3:{role}"))
        async with site.session(role) as client:
            assert f'href="{href}{CASE.case_id}"' in (await client.get("/notifications")).text
    await site.inbox.add(user_of("config_admin"), message("ev-3:cfg"))
    async with site.session("config_admin") as client:
        html = (await client.get("/notifications")).text
        assert CASE.title in html and f"/cases/{CASE.case_id}" not in html  # no case page


async def test_a_joint_action_opens_the_liaisons_report_in_form(site: Site) -> None:
    await site.inbox.add(user_of("liaison"), message("ev-ja", kind="joint_action_scheduled"))
    async with site.session("liaison") as client:
        html = (await client.get("/notifications")).text
    assert f'href="/liaison/cases/{CASE.case_id}#act-report-in"' in html


async def test_empty_and_show_more(site: Site) -> None:
    async with site.session("liaison") as client:
        html = (await client.get("/notifications")).text
        assert "暂无通知。" in html and badge(html) == ""
        ids = [
            (await site.inbox.add(user_of("liaison"), message(f"ev-{n}:li"))).notification_id
            for n in range(25)
        ]
        first = (await client.get("/notifications")).text
        assert first.count('class="note unread"') == 20 and "暂无通知" not in first
        more = re.search(r'id="notifications-more" href="/notifications\?before=(\d+)"', first)
        assert more and int(more.group(1)) == ids[5], "the oldest shown"
        second = (await client.get(f"/notifications?before={more.group(1)}")).text
        assert second.count('class="note unread"') == 5 and "notifications-more" not in second
        assert 'sse-swap="notification"' not in second, "an older page gets no new ones"
        assert 'id="notifications-newest" href="/notifications"' in second
        # 标为已读 on the older page comes back to it
        token = CSRF.search(second)
        assert token
        form = {"csrf_token": token.group(1), "before": more.group(1)}
        marked = await client.post(f"/notifications/{ids[0]}/read", data=form)
        assert marked.status_code == 303
        back_to = f"/notifications?before={ids[5]}&marked=1#n-{ids[0]}"
        assert marked.headers["location"] == back_to
        back = (await client.get(marked.headers["location"])).text
        assert "已标为已读。" in back and back.count('class="note unread"') == 4
        assert badge(back) == "24"
        older = (await client.get(f"/notifications?before={ids[0]}")).text
        assert "没有更早的通知。" in older
        assert badge((await client.get("/notifications?before=x1")).text) == "24"  # first page


async def test_mark_read_and_mark_all_change_the_count(site: Site) -> None:
    liaison = user_of("liaison")
    ids = [(await site.inbox.add(liaison, message(f"ev-{n}:li"))).notification_id for n in range(3)]
    async with site.session("liaison") as client:
        done = await submit(client, f"/notifications/{ids[0]}/read", {}, page="/notifications")
        assert done.status_code == 303
        assert done.headers["location"] == f"/notifications?marked=1#n-{ids[0]}"
        assert await site.inbox.unread(liaison) == 2
        html = (await client.get("/notifications")).text
        assert badge(html) == "2" and f'id="read-{ids[0]}"' not in html
        # htmx: the notification in place, read, and the navigation's count out of band
        token = await csrf_of(client, "/notifications")
        swapped = await client.post(
            f"/notifications/{ids[1]}/read", headers={"HX-Request": "true", "X-CSRF-Token": token}
        )
        assert swapped.status_code == 200 and swapped.text.lstrip().startswith(
            f'<li id="n-{ids[1]}" class="note">'
        )
        assert 'hx-swap-oob="innerHTML"' in swapped.text and "（1 条未读）" in swapped.text
        assert "<html" not in swapped.text
        everything = await submit(client, "/notifications/read-all", {}, page="/notifications")
        assert everything.status_code == 303
        assert everything.headers["location"] == "/notifications?marked=all"
        html = (await client.get(everything.headers["location"])).text
        assert "全部通知已标为已读。" in html and badge(html) == "" and "未读</span>" not in html
    assert await site.inbox.unread(liaison) == 0


async def test_without_the_csrf_token_or_for_another_user_nothing_is_marked(site: Site) -> None:
    mine = await site.inbox.add(user_of("liaison"), message("ev-1:li"))
    theirs = await site.inbox.add(user_of("secretary"), message("ev-1:sec"))
    async with site.session("liaison") as client:
        for path in (f"/notifications/{mine.notification_id}/read", "/notifications/read-all"):
            for data in ({}, {"csrf_token": "forged" * 8}):
                refused = await client.post(path, data=data)
                assert refused.status_code == 403 and "表单已过期" in refused.text
        other = await submit(
            client, f"/notifications/{theirs.notification_id}/read", {}, page="/notifications"
        )
        assert other.status_code == 404 and "没有这条通知。" in other.text
        assert "<title>无法访问 · 社区吹哨</title>" in other.text
    assert await site.inbox.unread(user_of("liaison")) == 1
    assert await site.inbox.unread(user_of("secretary")) == 1


async def test_pages_without_an_inbox_show_no_badge(site: Site) -> None:
    services = site.app.state.services  # type: ignore[attr-defined]
    site.app.state.services = replace(services, inbox=None)  # type: ignore[attr-defined]
    async with site.session("liaison") as client:
        home = await client.get("/")
        assert home.status_code == 200 and 'id="nav-notifications"' not in home.text
        unavailable = await client.get("/notifications")
        assert unavailable.status_code == 503 and "站内通知暂不可用" in unavailable.text


async def test_the_stream_brings_a_new_notification_as_the_pages_html(site: Site) -> None:
    liaison = user_of("liaison")
    shown = await site.inbox.add(liaison, message("ev-1:li"))
    missed = await site.inbox.add(liaison, message("ev-2:li"))  # after the page was drawn
    async with site.served() as base:
        client = await site.login("liaison", base=base)
        token = await csrf_of(client, "/notifications")
        path = f"/notifications/stream?after={shown.notification_id}"
        async with client.stream("GET", path) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response)
            event, _, data = await asyncio.wait_for(anext(stream), 20)
            assert event == "unread" and 'aria-hidden="true">2</span>' in data
            event, event_id, data = await asyncio.wait_for(anext(stream), 20)
            assert (event, event_id) == ("notification", str(missed.notification_id))
            await site.inbox.add(user_of("secretary"), message("ev-3:sec"))  # not theirs
            new = await site.inbox.add(liaison, message("ev-3:li", "en"))
            event, event_id, data = await asyncio.wait_for(anext(stream), 20)
            assert (event, event_id) == ("notification", str(new.notification_id))
            assert data.startswith(f'<li id="n-{new.notification_id}" class="note unread">')
            assert "New case for you" in data and f'href="/liaison/cases/{CASE.case_id}"' in data
            assert f'value="{token}"' in data, "its 标为已读 form carries the session's token"
            assert ">标为已读</button>" in data  # the page's language, the message's own
            event, _, data = await asyncio.wait_for(anext(stream), 20)
            assert event == "unread" and "（3 条未读）" in data
            await site.inbox.mark_all_read(liaison)  # e.g. in another tab
            event, _, data = await asyncio.wait_for(anext(stream), 20)
            assert (event, data) == ("unread", "")
        await client.aclose()
    assert not site.inbox.watch.listening  # the closed stream gave its connection back
