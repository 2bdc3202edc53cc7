"""In-app notifications: the inbox in PostgreSQL and the in-app channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from whistle.delivery.attempt import judge
from whistle.notify.channels import Destination
from whistle.notify.inbox import INBOX_CHANNEL, InAppChannel, Inbox, ensure_schema
from whistle.notify.message import CaseFacts, Message

pytestmark = pytest.mark.integration

CASE = CaseFacts("WH-20261202-7K3M9QX2PA", "滨海浪漫线游客激增")
LINK = f"https://whistle.example.gov.cn/cases/{CASE.case_id}"
DEADLINE = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)


def message(key: str | None, language: str = "zh") -> Message:
    return Message.create("assigned", CASE, LINK, DEADLINE, language, key=key, role="lead")  # type: ignore[arg-type]


@pytest.fixture
async def inbox(fresh_database: str) -> AsyncIterator[Inbox]:
    async with asyncpg.create_pool(fresh_database, min_size=1, max_size=4) as pool:
        async with pool.acquire() as conn:
            assert await ensure_schema(conn) == [
                1,
                2,
                3,
                4,
            ]  # inbox, prefs, deliveries, subscriptions
            assert await ensure_schema(conn) == []
        yield Inbox(pool)


async def test_the_channel_adds_once_per_key(inbox: Inbox) -> None:
    channel = InAppChannel(inbox)
    first = await channel.send(message("ev-1/li-urban/inapp"), Destination("li-urban"))
    again = await channel.send(message("ev-1/li-urban/inapp"), Destination("li-urban"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert judge(first, 0).outcome == judge(again, 0).outcome == "delivered"
    (item,) = await inbox.items("li-urban")
    assert item["case_id"] == CASE.case_id and item["link"] == LINK
    assert item["subject"].startswith("【吹哨】") and item["deadline_text"] == "2026年12月2日 14:30"
    assert item["read_at"] is None
    assert await inbox.items("li-police") == []


async def test_unread_count_list_and_marking_read(inbox: Inbox) -> None:
    for n in range(3):
        await inbox.add("li-urban", message(f"ev-{n}"))
    await inbox.add("li-police", message("ev-0"))
    assert await inbox.unread("li-urban") == 3
    items = await inbox.items("li-urban")
    assert [i["notification_id"] for i in items] == sorted(
        (i["notification_id"] for i in items), reverse=True
    )
    newest = items[0]["notification_id"]
    marked = await inbox.mark_read("li-urban", newest)
    assert marked and marked["notification_id"] == newest and marked["read_at"] is not None
    assert await inbox.mark_read("li-urban", newest) == marked  # again: unchanged
    assert not await inbox.mark_read("li-police", newest)  # not theirs
    assert await inbox.unread("li-urban") == 2
    assert [i["notification_id"] for i in await inbox.items("li-urban", unread_only=True)] == [
        i["notification_id"] for i in items[1:]
    ]
    assert len(await inbox.items("li-urban", before=newest, limit=1)) == 1
    assert await inbox.mark_all_read("li-urban") == 2
    assert await inbox.unread("li-urban") == 0 and await inbox.unread("li-police") == 1
    assert [i["notification_id"] for i in await inbox.since("li-urban", 0)] == sorted(
        i["notification_id"] for i in items
    )


async def test_an_added_notification_wakes_the_users_listeners(inbox: Inbox) -> None:
    conn = await inbox.pool.acquire()
    heard: asyncio.Queue[str] = asyncio.Queue()

    def listen(*args: object) -> None:
        heard.put_nowait(str(args[3]))

    await conn.add_listener(INBOX_CHANNEL, listen)
    try:
        await inbox.add("li-urban", message("ev-9"))
        assert await asyncio.wait_for(heard.get(), 10) == "li-urban"
    finally:
        await conn.remove_listener(INBOX_CHANNEL, listen)
        await inbox.pool.release(conn)


async def test_a_lost_database_is_a_retry(inbox: Inbox) -> None:
    await inbox.pool.close()
    result = await InAppChannel(inbox).send(message("ev-1"), Destination("li-urban"))
    assert result.status_code is None and judge(result, 0).outcome == "retry"
