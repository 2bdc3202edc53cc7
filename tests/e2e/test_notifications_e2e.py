"""From a raised whistle to the people who must act, through the whole service: the API, the
stream worker, the projector and the notifier as processes, a real SMTP server (aiosmtpd) and
the robot receivers that check WeCom's format and DingTalk's signature. Nobody signs for the
case: the liaison gets the assignment e-mail, the 50 % and 80 % reminders and the breach; the
community's secretary the breach and the 催办 on DingTalk; the street's supervisors the 督办 in
their WeCom group — and nobody anything twice."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.e2e.test_walking_skeleton import wait_for, whistle_cli
from tests.integration.notify.notifier_rig import Sink, smtp_sink
from tests.integration.notify.receivers import Platforms, running_platforms
from tests.service_fixtures import isolated_env, restartable_port, settings_of, supervised
from tests.short_sla_policies import write_short_sla_policies

pytestmark = pytest.mark.e2e

HTTP_PORT, WORKER_PORT, SMTP_PORT, ROBOT_PORT, SMS_PORT = (restartable_port() for _ in range(5))
LIAISON_MAIL = "transport-liaison@example.gov.cn"


@contextmanager
def platforms_in_thread() -> Iterator[Platforms]:
    """The robot receivers on their own event loop in a thread, for a synchronous test."""
    ready: list[Platforms] = []
    stop = threading.Event()

    async def serve() -> None:
        async with running_platforms(ROBOT_PORT, SMS_PORT) as platforms:
            ready.append(platforms)
            while not stop.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    for _ in range(100):
        if ready:
            break
        time.sleep(0.05)
    try:
        yield ready[0]
    finally:
        stop.set()
        thread.join(10)


def until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"not in time: {what}")


def test_a_whistle_nobody_signs_for_reaches_the_liaison_and_the_escalation_tiers(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, fresh_database, unique_name("ntf"))
    env |= {
        "WHISTLE_HTTP_PORT": str(HTTP_PORT),
        "WHISTLE_WORKER_WEB_PORT": str(WORKER_PORT),
        "WHISTLE_SLA_POLICIES_FILE": str(write_short_sla_policies(tmp_path, ack_within_s=8)),
        "WHISTLE_SMTP_HOST": "127.0.0.1",
        "WHISTLE_SMTP_PORT": str(SMTP_PORT),
        "WHISTLE_SMTP_SECURITY": "none",
        "WHISTLE_NOTIFY_CASE_URL": "https://whistle.example.gov.cn/cases/{case_id}",
    }
    settings = settings_of(env)
    whistle_cli(env, "db", "migrate")
    tokens = {
        who: whistle_cli(env, "users", "add", who, *scope).strip().splitlines()[-1]
        for who, scope in {
            "admin": ("--role", "admin"),
            "sec-jinhai": ("--role", "secretary", "--area", "tongan.datong.jinhai"),
            "li-transport": ("--role", "liaison", "--department", "transport"),
            "sup-datong": ("--role", "supervisor", "--area", "tongan.datong"),
            "sup-tongan": ("--role", "supervisor", "--area", "tongan"),
            "sup-xiangping": ("--role", "supervisor", "--area", "tongan.xiangping"),
        }.items()
    }
    api = f"http://127.0.0.1:{settings.http_port}"

    def as_(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[who]}"}

    with (
        smtp_sink(SMTP_PORT) as sink,
        platforms_in_thread() as platforms,
        supervised(tmp_path, env) as supervisor,
    ):
        for name, command in {
            "worker": ("worker",), "projector": ("projector",), "api": ("api",),
            "notifier": ("notifications", "run"),
        }.items():  # fmt: skip
            supervisor.start(name, *command)
        supervisor.wait_ready(f"{api}/readyz", timeout_s=120)
        _set_preferences(api, as_, platforms)
        posted = httpx.post(
            f"{api}/v1/cases",
            json={"category": "parking", "title": "消防通道被占", "address": "金海社区"},
            headers=as_("sec-jinhai"),
            timeout=30,
        )
        assert posted.status_code == 201, posted.text
        case_id = posted.json()["case_id"]
        case = wait_for(f"{api}/v1/cases/{case_id}", tokens["sec-jinhai"], "lead_department")
        assert case["lead_department"] == "transport"
        mails = until(lambda: _kinds(sink) >= {"新案件待签收", "50%", "80%", "已超时"}
                      and sink.to(LIAISON_MAIL), 90, "the liaison's four e-mails")  # fmt: skip
        until(lambda: len(platforms.accepted("wecom")) >= 1, 60, "the street's 督办")
        until(lambda: len(platforms.accepted("dingtalk")) >= 2, 60, "the community's 催办")
        time.sleep(3)  # anything sent twice would arrive by now
        log = httpx.get(f"{api}/v1/notifications/deliveries", params={"case_id": case_id,
                        "limit": 200}, headers=as_("admin")).json()["items"]  # fmt: skip
        inbox = httpx.get(f"{api}/v1/me/notifications", headers=as_("sup-datong")).json()
    subjects = [m["Subject"] for m in sink.to(LIAISON_MAIL)]
    assert len(subjects) == 4, subjects  # assignment, 50 %, 80 %, breach: once each
    assert all(case_id in s for s in subjects)
    body = mails[0].get_body().get_content()
    assert f"https://whistle.example.gov.cn/cases/{case_id}" in body
    # one robot message per escalated or breached clock (three departments' ack clocks), each
    # event once: as many messages as delivered deliveries, one delivery per event
    for channel in ("wecom", "dingtalk"):
        sent = [d for d in log if d["channel"] == channel]
        assert len(platforms.accepted(channel)) == len(sent) > 0, channel
        assert len({d["event_id"] for d in sent}) == len(sent), channel
    wecom = [r.body["markdown"]["content"] for r in platforms.accepted("wecom")]
    assert all("街道督办" in w and case_id in w for w in wecom)
    ding = [r.body["markdown"]["title"] for r in platforms.accepted("dingtalk")]
    assert any("社区催办" in t for t in ding) and any("超时" in t for t in ding)
    assert not any("督办" in t for t in ding)  # the street's step is not the community's
    assert not [r for r in platforms.received if r.problems], "a robot refused a message"
    told = {(d["user_id"], d["kind"]) for d in log if d["channel"] == "inapp"}
    assert ("sup-datong", "escalated") in told and ("sec-jinhai", "escalated") in told
    assert not any(u in ("sup-xiangping", "sup-tongan") for u, _ in told)  # not their tier/area
    # every notice delivered; the reminders of the 7-day resolve clocks wait for their time
    assert {d["status"] for d in log if d["kind"] != "deadline_approaching"} == {"delivered"}
    waiting = {d["clock_key"].partition(":")[0] for d in log if d["status"] == "pending"}
    assert waiting <= {"resolve"}
    assert {i["headline"] for i in inbox["items"]} == {"街道督办"}


def _kinds(sink: Sink) -> set[str]:
    found = set()
    for m in sink.to(LIAISON_MAIL):
        for marker in ("新案件待签收", "50%", "80%", "已超时"):
            if marker in m["Subject"]:
                found.add(marker)
    return found


def _set_preferences(api: str, as_: Callable[[str], dict[str, str]], p: Platforms) -> None:
    """E-mail for the liaison, a DingTalk robot of her own for the secretary, the WeCom robot
    of the street office for its supervisors: through the API, as each user and the admin."""
    for who, body in {
        "li-transport": {"email": LIAISON_MAIL, "channels": ["email"]},
        "sec-jinhai": {"robot": {"platform": "dingtalk", "url": p.dingtalk_url,
                                 "secret": p.dingtalk_secret}, "channels": ["dingtalk"]},
        "sup-datong": {"channels": ["wecom"]},
    }.items():  # fmt: skip
        put = httpx.put(f"{api}/v1/me/notification-preferences", json=body, headers=as_(who))
        assert put.status_code == 200, put.text
    robot = httpx.put(
        f"{api}/v1/notifications/robots/area/tongan.datong/wecom",
        json={"url": p.wecom_url},
        headers=as_("admin"),
    )
    assert robot.status_code == 200, robot.text
