"""The notifier off a real Kafka topic: e-mail to an aiosmtpd server, robot messages to the
signature-checking receivers, in-app; never twice on one channel; quiet hours; fallback;
reminders dropped when the clock is met; a kind turned off is not sent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import unique_name
from tests.integration.notify.notifier_rig import (
    ROBOT_PORT,
    SMS_PORT,
    SMTP_PORT,
    URBAN,
    Rig,
    Sink,
    breached,
    eventually,
    notifier,
    open_rig,
    raised,
    robots,
    routed,
    smtp_sink,
)
from tests.integration.notify.receivers import Platforms, running_platforms
from whistle.domain.base import Actor, event_id_for
from whistle.domain.events import DepartmentAcknowledged
from whistle.notify.templates import CHINA
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS, ensure_topics

pytestmark = pytest.mark.integration


@pytest.fixture
async def rig(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> AsyncIterator[tuple[Rig, Sink, Platforms]]:
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap, database_url=fresh_database,
        topic_prefix=unique_name("nt"), partitions=2, state_dir=tmp_path,
        smtp_host="127.0.0.1", smtp_port=SMTP_PORT, smtp_security="none",
        notify_case_url="https://whistle.example.gov.cn/cases/{case_id}",
    )  # fmt: skip
    await ensure_topics(settings, (CASE_EVENTS,))
    made, pool = await open_rig(settings)
    await made.users.add("li-urban", "liaison", department=URBAN)
    await made.users.add("li-urban-2", "liaison", department=URBAN)
    await made.users.add("sup-datong", "supervisor", area="tongan.datong")
    try:
        with smtp_sink() as sink:
            async with running_platforms(ROBOT_PORT, SMS_PORT) as platforms:
                yield made, sink, platforms
    finally:
        await made.producer.stop()
        await pool.close()


def case() -> str:
    return f"WH-{uuid.uuid4().hex[:10].upper()}"


async def test_an_assignment_reaches_email_the_department_robot_and_the_inbox(
    rig: tuple[Rig, Sink, Platforms],
) -> None:
    r, sink, platforms = rig
    await r.prefer("li-urban", email="urban@example.gov.cn", channels=("email",))
    await r.prefer("li-urban-2", channels=("wecom",))
    await r.group_robot(f"department:{URBAN}", robots(platforms)["wecom"])
    case_id = case()
    async with notifier(r):
        await r.publish(raised(case_id), routed(case_id))
        await eventually(lambda: _async(len(sink.to("urban@example.gov.cn")) == 1))
        await eventually(lambda: _async(len(platforms.accepted("wecom")) == 1))
        await eventually(lambda: _delivered(r, 3))
    mail = sink.to("urban@example.gov.cn")[0]
    body = mail.get_body().get_content()  # type: ignore[union-attr]
    assert case_id in mail["Subject"] and "新案件待签收" in mail["Subject"]
    assert f"https://whistle.example.gov.cn/cases/{case_id}" in body
    assert "13912345678" not in body + mail["Subject"]  # scrubbed
    content = platforms.accepted("wecom")[0].body["markdown"]["content"]
    assert case_id in content and "签收" in content
    inapp = await r.deliveries(channel="inapp")
    assert {d["user_id"] for d in inapp if d["kind"] == "assigned"} == {"li-urban", "li-urban-2"}
    inbox = await r.store.pool.fetch("SELECT user_id FROM notify.inbox WHERE kind = 'assigned'")
    assert sorted(x[0] for x in inbox) == ["li-urban", "li-urban-2"]
    reminders = await r.deliveries(kind="deadline_approaching", status="pending")
    assert {d["channel"] for d in reminders} == {"inapp", "email", "wecom"}
    assert all(d["next_attempt_at"] > datetime.now(UTC) for d in reminders)


async def test_a_replay_from_the_start_sends_nothing_twice(
    rig: tuple[Rig, Sink, Platforms],
) -> None:
    r, sink, _ = rig
    await r.prefer("li-urban", email="urban@example.gov.cn", channels=("email",))
    case_id = case()
    await r.publish(raised(case_id), routed(case_id), breached(case_id))
    async with notifier(r):
        await eventually(lambda: _async(len(sink.to("urban@example.gov.cn")) == 2))
    before = len(await r.deliveries())
    await r.store.pool.execute("DELETE FROM notify.checkpoints")  # replay the whole log
    async with notifier(r):
        await asyncio.sleep(3)
    assert len(await r.deliveries()) == before
    assert len(sink.to("urban@example.gov.cn")) == 2  # assignment and breach, once each


async def test_quiet_hours_hold_a_delivery_unless_it_is_an_emergency(
    rig: tuple[Rig, Sink, Platforms],
) -> None:
    r, sink, _ = rig
    now = datetime.now(CHINA)
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    quiet = {"quiet_start": start, "quiet_end": end}
    await r.prefer("li-urban", email="urban@example.gov.cn", channels=("email",), **quiet)
    calm, urgent = case(), case()
    async with notifier(r):
        await r.publish(raised(calm), routed(calm), raised(urgent, "emergency"), routed(urgent))
        await eventually(lambda: _async(len(sink.to("urban@example.gov.cn")) == 1))
        await asyncio.sleep(1)
    assert urgent in sink.to("urban@example.gov.cn")[0]["Subject"]
    held = (await r.deliveries(case_id=calm, channel="email", kind="assigned"))[0]
    assert held["status"] == "pending" and held["attempts"] == 0
    local_end = held["next_attempt_at"].astimezone(CHINA)
    assert local_end.time().replace(tzinfo=None) == end or end < start
    inapp = (await r.deliveries(case_id=calm, channel="inapp", kind="assigned"))[0]
    assert inapp["status"] == "delivered"  # the workspace is silent: never held


async def test_a_dead_channel_falls_back_to_the_next(rig: tuple[Rig, Sink, Platforms]) -> None:
    r, sink, platforms = rig
    gone = robots(platforms)["wecom"]
    gone = type(gone)("wecom", gone.url.replace(platforms.wecom_key, "deleted-robot"))
    await r.prefer("li-urban", email="urban@example.gov.cn", robot=gone,
                   channels=("wecom", "email"))  # fmt: skip
    case_id = case()
    async with notifier(r):
        await r.publish(raised(case_id), routed(case_id))
        await eventually(lambda: _async(len(sink.to("urban@example.gov.cn")) == 1))
    rows = await r.deliveries(case_id=case_id, kind="assigned", user_id="li-urban")
    by_channel = {d["channel"]: d for d in rows}
    assert by_channel["wecom"]["status"] == "dead"
    assert by_channel["email"]["fallback_from"] == by_channel["wecom"]["delivery_id"]
    attempts = await r.store.attempts(by_channel["wecom"]["delivery_id"])
    assert attempts and attempts[0]["error"] and "93000" in attempts[0]["error"]


async def test_an_acknowledgement_drops_the_pending_reminders(
    rig: tuple[Rig, Sink, Platforms],
) -> None:
    r, _, _ = rig
    case_id = case()
    ack = DepartmentAcknowledged(
        event_id=event_id_for(f"{case_id}-ack", 3), case_id=case_id, seq=3,
        occurred_at=datetime.now(UTC), command_id=f"{case_id}-ack", department=URBAN,
        actor=Actor(user_id="li-urban", role="liaison", department=URBAN),
    )  # fmt: skip
    async with notifier(r):
        await r.publish(raised(case_id), routed(case_id))
        await eventually(lambda: r.deliveries(kind="deadline_approaching", status="pending"))
        await r.publish(ack)
        await eventually(lambda: r.deliveries(kind="deadline_approaching", status="cancelled"))
    left = await r.deliveries(kind="deadline_approaching", status="pending")
    assert left == []


async def test_reminders_fire_at_their_percent_of_a_short_clock(
    rig: tuple[Rig, Sink, Platforms],
) -> None:
    r, sink, _ = rig
    await r.prefer("li-urban", email="urban@example.gov.cn", channels=("email",))
    case_id = case()
    async with notifier(r):
        await r.publish(raised(case_id), routed(case_id, ack_in=timedelta(seconds=6)))
        await eventually(lambda: _async(len(sink.to("urban@example.gov.cn")) == 3), 15)
    subjects = [m["Subject"] for m in sink.to("urban@example.gov.cn")]
    assert any("50%" in s for s in subjects) and any("80%" in s for s in subjects)


async def test_a_digest_user_gets_one_message_for_several(
    rig: tuple[Rig, Sink, Platforms],
) -> None:
    r, sink, _ = rig
    await r.prefer("li-urban", email="urban@example.gov.cn", channels=("email",), digest=True)
    one, two = case(), case()
    async with notifier(r):
        await r.publish(raised(one), routed(one), raised(two), routed(two))
        await eventually(lambda: r.deliveries(channel="email", kind="assigned"))
        await asyncio.sleep(1)
        assert sink.to("urban@example.gov.cn") == []  # held for the digest hour
        await r.store.pool.execute(
            "UPDATE notify.deliveries SET next_attempt_at = now() WHERE digest"
            " AND kind = 'assigned'"
        )  # the digest hour has come
        await eventually(lambda: _async(len(sink.to("urban@example.gov.cn")) == 1))
        await asyncio.sleep(1)
    mails = sink.to("urban@example.gov.cn")
    assert len(mails) == 1 and "每日汇总：2 条通知" in mails[0]["Subject"]
    body = mails[0].get_body().get_content()  # type: ignore[union-attr]
    assert one in body and two in body
    statuses = sorted(d["status"] for d in await r.deliveries(channel="email", kind="assigned"))
    assert statuses == ["delivered", "digested"]


async def _async(value: object) -> object:
    return value


async def _delivered(r: Rig, n: int) -> bool:
    rows = await r.deliveries(status="delivered", kind="assigned")
    return len(rows) >= n


async def test_a_kind_turned_off_is_not_sent_while_the_others_and_emergencies_arrive(
    rig: tuple[Rig, Sink, Platforms],
) -> None:
    r, sink, _ = rig
    muted, other = "urban@example.gov.cn", "urban2@example.gov.cn"
    await r.prefer("li-urban", email=muted, channels=("email",))
    await r.prefer("li-urban-2", email=other, channels=("email",))
    await r.store.subscriptions.put("user", "li-urban", {"assigned": False}, actor="li-urban")
    calm, urgent = case(), case()
    async with notifier(r):
        await r.publish(raised(calm), routed(calm), breached(calm))
        await r.publish(raised(urgent, "emergency"), routed(urgent))
        # the breach comes after the assignment in the case's partition: once it is here,
        # the assignment has been read
        await eventually(lambda: _async(len(sink.to(muted)) == 2 and len(sink.to(other)) == 3))
    subjects = [m["Subject"] for m in sink.to(muted)]
    assert any(calm in s and "超时" in s for s in subjects)  # the other kind still arrives
    assert any(urgent in s and "新案件待签收" in s for s in subjects)  # an emergency, muted or not
    assert not any(calm in s and "新案件待签收" in s for s in subjects)
    assert sum(calm in m["Subject"] and "新案件待签收" in m["Subject"] for m in sink.to(other)) == 1
    rows = await r.deliveries(case_id=calm, user_id="li-urban", kind="assigned")
    assert rows == []  # neither e-mail nor in-app
    breach = await r.deliveries(case_id=calm, user_id="li-urban", kind="deadline_breached")
    assert {d["channel"] for d in breach} == {"inapp", "email"}


async def test_turning_reminders_off_cancels_those_already_queued_for_the_people_concerned(
    rig: tuple[Rig, Sink, Platforms],
) -> None:
    r, _, _ = rig
    await r.prefer("li-urban", email="urban@example.gov.cn", channels=("email",))
    calm, urgent = case(), case()
    async with notifier(r):
        await r.publish(raised(calm), routed(calm), raised(urgent, "emergency"), routed(urgent))
        await eventually(lambda: _delivered(r, 4))  # both cases' assignments, in-app to both

    async def pending(user_id: str, case_id: str) -> set[str]:
        rows = await r.deliveries(user_id=user_id, case_id=case_id, kind="deadline_approaching")
        return {d["channel"] for d in rows if d["status"] == "pending"}

    assert await pending("li-urban", calm) == {"inapp", "email"}
    subs = r.store.subscriptions
    await subs.put("user", "li-urban", {"deadline_approaching": False}, actor="li-urban")
    assert await pending("li-urban", calm) == set()
    assert await pending("li-urban-2", calm) == {"inapp"}  # a colleague's stay
    assert await pending("li-urban", urgent) == {"inapp", "email"}  # an emergency's stay
    await subs.put("department", URBAN, {"deadline_approaching": False}, actor="admin")
    assert await pending("li-urban-2", calm) == set()
    cancelled = await r.deliveries(case_id=calm, status="cancelled")
    assert {d["dead_reason"] for d in cancelled} == {"kind turned off"}
    notes = await r.store.pool.fetch(
        "SELECT note FROM audit.entries WHERE kind = 'notify.subscriptions_set' ORDER BY entry_id"
    )
    assert [n["note"] for n in notes] == [
        "4 queued deliveries cancelled", "2 queued deliveries cancelled",
    ]  # fmt: skip
