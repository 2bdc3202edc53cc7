"""A person's notification settings page on the real database: saved as the API's PUT saves
them (the API then reads the same), an invalid e-mail or quiet hours are shown beside the
field in the visitor's language and change nothing, and a robot's URL (its key) is never shown
again but kept when the field is left empty."""

from __future__ import annotations

import re
from typing import cast

import pytest
from fastapi import FastAPI

from tests.integration.web.conftest import Site, csrf_of, submit
from whistle.notify.message import KINDS
from whistle.notify.notifier_store import NotifierStore

pytestmark = pytest.mark.integration

PAGE = "/settings/notifications"
DEPARTMENTS = "/admin/notifications/departments"
ROBOT = "https://oapi.dingtalk.com/robot/send?access_token=ROBOT.KEY.77"


def _store(site: Site) -> NotifierStore:
    store = cast(FastAPI, site.app).state.services.notifier
    assert store is not None
    return cast(NotifierStore, store)


async def test_settings_are_saved_refused_beside_the_field_and_the_robot_key_hidden(
    site: Site,
) -> None:
    async with site.session("liaison") as liaison:
        first = await liaison.get(PAGE)
        assert first.status_code == 200 and "通知设置" in first.text
        form = {"language": "zh", "email": "li@example.gov.cn", "phone": "139-1234-5678",
                "robot_platform": "dingtalk", "robot_url": ROBOT, "robot_secret": "SEC.9",
                "quiet_start": "22:00", "quiet_end": "07:00", "digest": "on"}  # fmt: skip
        token = await csrf_of(liaison, PAGE)
        sent = {**form, "channels": ["dingtalk", "email"], "csrf_token": token}
        saved = await liaison.post(PAGE, data=sent)
        assert saved.status_code == 303 and saved.headers["location"] == f"{PAGE}?saved=1"
        shown = await liaison.get(f"{PAGE}?saved=1")
        assert 'id="notify-saved"' in shown.text and "li@example.gov.cn" in shown.text
        assert "ROBOT.KEY.77" not in shown.text and 'id="robot-on-file"' in shown.text
        bad = await submit(liaison, PAGE, {**form, "email": "not-an-address", "robot_url": ""},
                           PAGE)  # fmt: skip
        assert bad.status_code == 422 and 'id="e-email"' in bad.text
        assert "电子邮件地址" in bad.text
        empty = await submit(liaison, PAGE, {**form, "quiet_end": "22:00", "robot_url": ""}, PAGE)
        assert empty.status_code == 422 and 'id="e-quiet_start"' in empty.text
    people = await _store(site).preferences.all()
    [prefs] = [p for p in people.values() if p.email == "li@example.gov.cn"]  # not the bad one
    assert prefs.phone == "13912345678"
    assert prefs.robot is not None and prefs.robot.url == ROBOT and prefs.robot.secret == "SEC.9"
    assert prefs.channels == ("dingtalk", "email") and prefs.digest
    assert prefs.quiet_start is not None and prefs.quiet_start.strftime("%H:%M") == "22:00"


def _ticked(html: str) -> set[str]:
    """The kinds whose checkbox is ticked on a page."""
    return set(re.findall(r'id="f-kind-([a-z_]+)" checked', html))


async def test_which_kinds_a_liaison_receives_follows_the_department_until_they_choose(
    site: Site,
) -> None:
    store = _store(site)
    everything = set(KINDS)
    async with site.session("liaison") as liaison:
        first = await liaison.get(PAGE)
        assert "接收哪些通知" in first.text and _ticked(first.text) == everything
    async with site.session("admin") as admin:
        listed = await admin.get(DEPARTMENTS)
        assert listed.status_code == 200 and 'id="department-urban_management"' in listed.text
        url = f"{DEPARTMENTS}/urban_management"
        ticked = [k for k in KINDS if k != "deadline_approaching"]
        saved = await submit(admin, url, {"kinds": ticked}, url)
        assert saved.status_code == 303 and saved.headers["location"] == f"{url}?saved=1"
        listed = await admin.get(DEPARTMENTS)
        row = listed.text.split('id="department-urban_management"')[1].split("</tr>")[0]
        assert "临近时限提醒" in row
    assert await store.subscriptions.of("department", "urban_management") == {
        "deadline_approaching": False
    }
    async with site.session("liaison") as liaison:
        shown = await liaison.get(PAGE)
        assert _ticked(shown.text) == everything - {"deadline_approaching"}
        assert 'id="source-deadline_approaching"' in shown.text and "本部门默认" in shown.text
        # the liaison ticks the reminders back and unticks the assignments
        ticked = [k for k in KINDS if k != "assigned"]
        saved = await submit(liaison, f"{PAGE}/subscriptions", {"kinds": ticked}, PAGE)
        assert saved.status_code == 303
        again = await liaison.get(saved.headers["location"])
        assert 'id="kinds-saved"' in again.text and _ticked(again.text) == everything - {"assigned"}
    assert await store.subscriptions.of("user", "li-urban") == {
        "assigned": False, "deadline_approaching": True,
    }  # fmt: skip
    # (only what differs from the department's setting is stored)


async def test_a_supervisor_cannot_untick_escalations_and_a_forged_kind_is_refused_beside(
    site: Site,
) -> None:
    async with site.session("supervisor") as supervisor:
        page = await supervisor.get(PAGE)
        for kind in ("escalated", "deadline_breached"):
            assert f'id="f-kind-{kind}" checked disabled' in page.text
        assert 'id="fixed-escalated"' in page.text
        saved = await submit(supervisor, f"{PAGE}/subscriptions", {}, PAGE)  # nothing ticked
        assert saved.status_code == 303
        shown = await supervisor.get(PAGE)
        assert _ticked(shown.text) == {"escalated", "deadline_breached"}
        supervisor.cookies.set("whistle_lang", "en")
        bad = await submit(supervisor, f"{PAGE}/subscriptions", {"kinds": "gossip"}, PAGE)
        assert bad.status_code == 422 and 'id="e-kinds"' in bad.text
        assert "No notification kind gossip" in bad.text
        assert "Which notifications you receive" in bad.text and "Escalations" in bad.text
    stored = await _store(site).subscriptions.of("user", "sup-tongan")
    assert stored and not any(stored.values())  # the empty form, not the forged one
    assert "escalated" not in stored
    async with site.session("admin") as admin:
        missing = await admin.get(f"{DEPARTMENTS}/nowhere")
        assert missing.status_code == 404 and "没有部门 nowhere" in missing.text
        url = f"{DEPARTMENTS}/transport"
        forged = await submit(admin, url, {"kinds": "spam"}, url)
        assert forged.status_code == 422 and 'id="e-kinds"' in forged.text
        assert "没有通知类型 spam" in forged.text
    assert await _store(site).subscriptions.of("department", "transport") == {}
