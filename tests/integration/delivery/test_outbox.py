"""The shared outbox over another owner's tables than the webhooks' or the notifier's: the
channels' results, judged by the shared judge, move deliveries the same way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from whistle.delivery.attempt import AttemptResult, judge
from whistle.delivery.outbox import Attempt, Outbox

pytestmark = pytest.mark.integration


def attempt(delivery_id: int, before: int, result: AttemptResult) -> Attempt:
    verdict = judge(result, before)
    return Attempt(
        delivery_id, before, result.started_at, result.duration_ms, result.status_code,
        result.error, verdict.outcome, verdict.retry_in,
    )  # fmt: skip


async def test_results_move_deliveries_and_a_dead_letter_is_redelivered(
    pool: asyncpg.Pool,
) -> None:
    ids = [
        await pool.fetchval(
            "INSERT INTO outbox_demo.deliveries (recipient, channel, event_id)"
            " VALUES ($1, $2, 'ev-1') RETURNING delivery_id",
            recipient,
            channel,
        )
        for recipient, channel in [
            ("u1", "email"),
            ("u1", "wecom"),
            ("u2", "sms"),
            ("u3", "dingtalk"),
        ]
    ]
    now = datetime.now(UTC)
    results = [
        AttemptResult(now, 5.0, 250),  # SMTP accepted
        AttemptResult(now, 5.0, 200, "errcode 45009", "60", refused="retry"),  # rate limited
        AttemptResult(now, 5.0, 200, "isv.MOBILE_NUMBER_ILLEGAL", refused="dead"),
        AttemptResult(now, 5.0, 200, "token is not exist", refused="gone"),
    ]
    outbox = Outbox(pool, "outbox_demo", "outbox_demo_wake")
    await outbox.record_attempts([attempt(i, 0, r) for i, r in zip(ids, results, strict=True)])
    rows = {
        r["delivery_id"]: r
        for r in await pool.fetch(
            "SELECT *, extract(epoch FROM next_attempt_at - now()) AS wait_s"
            " FROM outbox_demo.deliveries"
        )
    }
    assert [rows[i]["status"] for i in ids] == ["delivered", "pending", "dead", "dead"]
    assert rows[ids[0]]["delivered_at"] is not None and rows[ids[0]]["last_status_code"] == 250
    assert 30 < rows[ids[1]]["wait_s"] <= 60  # the robot's 60 s pause, not the schedule's 5 s
    assert rows[ids[2]]["dead_reason"] == "retries exhausted"
    assert rows[ids[3]]["dead_reason"] == "endpoint gone (410)"
    assert [a["attempt"] for a in await outbox.attempts(ids[2])] == [1]

    listener = await pool.acquire()
    woken = asyncio.Event()

    def wake(*_: object) -> None:
        woken.set()

    await listener.add_listener("outbox_demo_wake", wake)
    try:
        assert await outbox.redeliver(ids[2])
        await asyncio.wait_for(woken.wait(), 10)
    finally:
        await listener.remove_listener("outbox_demo_wake", wake)
        await pool.release(listener)
    again = await pool.fetchrow("SELECT * FROM outbox_demo.deliveries WHERE delivery_id=$1", ids[2])
    assert again["status"] == "pending" and again["dead_reason"] is None
    assert again["attempts"] == 1  # the log is kept: the next attempt is number 2
    assert not await outbox.redeliver(999_999)


async def test_a_dead_reason_can_be_given(pool: asyncpg.Pool) -> None:
    delivery = await pool.fetchval(
        "INSERT INTO outbox_demo.deliveries (recipient, channel, event_id)"
        " VALUES ('u1', 'email', 'ev-2') RETURNING delivery_id"
    )
    refused = Attempt(
        delivery, 0, datetime.now(UTC), 3.0, 550, "5.1.1 mailbox unavailable", "dead",
        dead_reason="refused by the receiver (550)",
    )  # fmt: skip
    await Outbox(pool, "outbox_demo", "outbox_demo_wake").record_attempts([refused])
    row = await pool.fetchrow("SELECT * FROM outbox_demo.deliveries WHERE delivery_id=$1", delivery)
    assert (row["status"], row["dead_reason"]) == ("dead", "refused by the receiver (550)")


def test_only_plain_identifiers_name_the_tables() -> None:
    with pytest.raises(ValueError, match="identifiers"):
        Outbox(None, "x; DROP TABLE y", "c")  # type: ignore[arg-type]


async def test_checkpoints_are_read_per_consumer_and_topic(pool: asyncpg.Pool) -> None:
    await pool.executemany(
        "INSERT INTO outbox_demo.checkpoints VALUES ($1, $2, $3, $4)",
        [("demo", "events", 0, 5), ("demo", "events", 1, 7), ("demo", "other", 0, 9),
         ("another", "events", 0, 11)],
    )  # fmt: skip
    outbox = Outbox(pool, "outbox_demo", "outbox_demo_wake")
    assert await outbox.checkpoints("demo", "events") == {0: 5, 1: 7}
    assert await outbox.checkpoints("demo", "none") == {}
