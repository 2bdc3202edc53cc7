"""A person's notification settings page on the real database: saved as the API's PUT saves
them (the API then reads the same), an invalid e-mail or quiet hours are shown beside the
field in the visitor's language and change nothing, and a robot's URL (its key) is never shown
again but kept when the field is left empty."""

from __future__ import annotations

from typing import cast

import pytest
from fastapi import FastAPI

from tests.integration.web.conftest import Site, csrf_of, submit
from whistle.notify.notifier_store import NotifierStore

pytestmark = pytest.mark.integration

PAGE = "/settings/notifications"
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
