"""The notifier killed -9 under load, three times, and started again: every due notification
is delivered, no delivery is queued twice, the in-app inbox holds each once, and an e-mail
is sent again only when the notifier died between the SMTP server's 250 and the record of the
attempt (the window at-least-once cannot close) — and then under the same Message-ID, which
mail systems use to drop the copy."""

from __future__ import annotations

import asyncio
import collections
import time
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import unique_name
from tests.integration.notify.notifier_rig import URBAN, open_rig, raised, routed, smtp_sink
from tests.service_fixtures import isolated_env, restartable_port, settings_of, supervised
from whistle.topics import CASE_EVENTS, ensure_topics

pytestmark = pytest.mark.integration

SMTP_PORT = restartable_port()
CASES = 150
LIAISONS = 4
KILLS = 3
CONCURRENCY = 32


def test_the_notifier_killed_under_load_delivers_everything_and_nothing_twice(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, fresh_database, unique_name("nkill"), 2)
    env |= {
        "WHISTLE_SMTP_HOST": "127.0.0.1", "WHISTLE_SMTP_PORT": str(SMTP_PORT),
        "WHISTLE_SMTP_SECURITY": "none", "WHISTLE_NOTIFY_LEASE_S": "3",
        "WHISTLE_SECRET_KEY": "test-key",  # the rig seals with it
    }  # fmt: skip
    settings = settings_of(env)
    asyncio.run(ensure_topics(settings, (CASE_EVENTS,)))
    asyncio.run(_prepare(settings))
    expected = CASES * LIAISONS  # one assignment e-mail per case and liaison
    with smtp_sink(SMTP_PORT) as sink, supervised(tmp_path, env) as supervisor:
        supervisor.start("notifier", "notifications", "run", "--concurrency", str(CONCURRENCY))
        kills = 0
        deadline = time.monotonic() + 150
        while len(_ids(sink)) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
            if kills < KILLS and len(sink.messages) >= (kills + 1) * expected // (KILLS + 2):
                supervisor.kill("notifier")  # SIGKILL mid-flight
                kills += 1
                supervisor.start("notifier", "notifications", "run",
                                 "--concurrency", str(CONCURRENCY))  # fmt: skip
        assert kills == KILLS
        assert len(_ids(sink)) == expected, f"{len(_ids(sink))} of {expected} delivered"
        rows = asyncio.run(_rows(settings.dsn))
    email = [r for r in rows if r["channel"] == "email"]
    assert len(email) == expected == len({r["dedup_key"] for r in email})
    assert {r["status"] for r in email} == {"delivered"}
    copies = collections.Counter(m["Message-ID"] for m in sink.messages)
    again = {mid: n for mid, n in copies.items() if n > 1}
    assert len(again) <= KILLS * CONCURRENCY, again  # only what was in flight at a kill
    assert all(n == 2 for n in again.values()), again  # and at most once more
    inapp = [r for r in rows if r["channel"] == "inapp"]
    assert len(inapp) == expected and {r["status"] for r in inapp} == {"delivered"}
    inbox = asyncio.run(_inbox(settings.dsn))
    assert inbox == expected  # exactly once: the inbox is keyed by the delivery
    print(f"\nkill -9 x{KILLS}: {expected} e-mails, {len(again)} sent again after a kill")


def _ids(sink: object) -> set[str]:
    return {m["Message-ID"] for m in sink.messages}  # type: ignore[attr-defined]


async def _prepare(settings: object) -> None:
    rig, pool = await open_rig(settings)  # type: ignore[arg-type]
    try:
        for n in range(LIAISONS):
            user = f"li-{n}"
            await rig.users.add(user, "liaison", department=URBAN)
            await rig.prefer(user, email=f"{user}@example.gov.cn", channels=("email",))
        for _ in range(CASES):
            case_id = f"WH-{uuid.uuid4().hex[:10].upper()}"
            await rig.publish(raised(case_id), routed(case_id, timedelta(days=1)))
    finally:
        await rig.producer.stop()
        await pool.close()


async def _rows(dsn: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch("SELECT * FROM notify.deliveries WHERE kind = 'assigned'"))
    finally:
        await conn.close()


async def _inbox(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM notify.inbox WHERE kind = 'assigned'"))
    finally:
        await conn.close()
