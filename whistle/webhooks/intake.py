"""Turn a batch of case events into queued deliveries, with the checkpoint, atomically.

A batch costs two or three round trips whatever its size: one read of the cases' departments,
(every second) one read of the endpoints, and one statement that writes the cases' new
departments, the deliveries and the worker's checkpoint together. Partitions are owned by one
worker of the group, so the read needs no lock; should two workers overlap during a rebalance,
the departments never move backwards (``applied_seq`` only grows) and a delivery is unique per
(endpoint, event). New deliveries are inserted already leased to this worker
(``next_attempt_at`` = now + lease) and handed to its sender directly; should the worker die,
the lease expires and any worker sends them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from whistle.delivery.log_consumer import LogRecord
from whistle.logs import get_logger
from whistle.webhooks.concern import concerned, departments_after
from whistle.webhooks.delivery_store import LEASE, Due, valid_secrets
from whistle.webhooks.payload import cloudevent_of, delivery_body
from whistle.webhooks.secretbox import SecretBox

log = get_logger()
REGISTRATION_SLACK = timedelta(minutes=1)
GONE_MEMORY_S = 30.0
Event = dict[str, Any]


class EndpointCache:
    """Enabled endpoints by department, read again at most every ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float = 1.0) -> None:
        self.ttl_s = ttl_s
        self._at = float("-inf")
        self._by_department: dict[str, list[asyncpg.Record]] = {}
        self._gone: dict[int, float] = {}

    def gone(self, endpoint_id: int) -> None:
        """The endpoint answered 410: leave it out at once, before its disabling is written."""
        self._gone[endpoint_id] = time.monotonic()
        self._at = float("-inf")

    def is_gone(self, endpoint_id: int) -> bool:
        """True for a while after a 410 (by then the endpoints read say it is disabled)."""
        at = self._gone.get(endpoint_id)
        if at is not None and time.monotonic() - at > GONE_MEMORY_S:
            del self._gone[endpoint_id]
            return False
        return at is not None

    async def get(self, conn: asyncpg.Connection) -> dict[str, list[asyncpg.Record]]:
        """The endpoints, from the cache while it is fresh."""
        if time.monotonic() - self._at >= self.ttl_s:
            rows = await conn.fetch("SELECT *, now() AS now FROM webhooks.endpoints WHERE enabled")
            found: dict[str, list[asyncpg.Record]] = {}
            for row in rows:
                found.setdefault(row["department"], []).append(row)
            self._by_department, self._at = found, time.monotonic()
        if not self._gone:
            return self._by_department
        return {
            department: [ep for ep in eps if not self.is_gone(ep["endpoint_id"])]
            for department, eps in self._by_department.items()
        }


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _decode(records: Sequence[LogRecord]) -> list[Event]:
    events = []
    for rec in records:
        try:
            raw = json.loads(rec.value or b"")
            if not isinstance(raw, dict):
                raise ValueError("not an object")
            raw["case_id"], raw["seq"] = str(raw["case_id"]), int(raw["seq"])
            events.append(raw)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning(
                "webhook_skip_record", partition=rec.partition, offset=rec.offset, error=str(exc)
            )
    return events


def fold(events: list[Event], state: dict[str, tuple[list[str], int]]) -> list[tuple[str, Event]]:
    """Fold ``events`` into ``state`` (case → departments, applied seq), in place; return the
    (department, event) pairs to deliver. Events already applied (replays) are skipped."""
    targets: list[tuple[str, Event]] = []
    for raw in events:
        before, applied = state.get(raw["case_id"], ([], 0))
        if raw["seq"] <= applied:
            continue
        after = departments_after(before, raw)
        state[raw["case_id"]] = (after, raw["seq"])
        targets += [(d, raw) for d in concerned(before, after, raw)]
    return targets


def _deliveries(
    targets: list[tuple[str, Event]], endpoints: dict[str, list[asyncpg.Record]]
) -> tuple[list[tuple[Any, ...]], dict[int, asyncpg.Record]]:
    rows: list[tuple[Any, ...]] = []
    used: dict[int, asyncpg.Record] = {}
    converted: dict[str, dict[str, Any] | None] = {}
    for department, raw in targets:
        when = _when(raw.get("occurred_at"))
        for ep in endpoints.get(department, []):
            types = ep["event_types"]
            if types is not None and raw["type"] not in types:
                continue
            if when is not None and when < ep["created_at"] - REGISTRATION_SLACK:
                continue  # an endpoint receives what happens after it was registered
            event_id = str(raw.get("event_id"))
            if event_id not in converted:
                try:
                    converted[event_id] = cloudevent_of(raw)
                except ValueError as exc:
                    log.warning("webhook_bad_event", case_id=raw["case_id"], error=str(exc))
                    converted[event_id] = None
            cloudevent = converted[event_id]
            if cloudevent is None:
                continue
            used[ep["endpoint_id"]] = ep
            body = delivery_body(raw, department, cloudevent)
            rows.append(
                (ep["endpoint_id"], event_id, raw["case_id"], raw["type"], department, body, when)
            )
    return rows, used


WRITE = """
WITH departments AS (
    INSERT INTO webhooks.case_departments (case_id, departments, applied_seq)
    SELECT k, coalesce(string_to_array(NULLIF(d, ''), ','), '{}'), s
      FROM unnest($1::text[], $2::text[], $3::int[]) AS t(k, d, s)
    ON CONFLICT (case_id) DO UPDATE
       SET departments = EXCLUDED.departments, applied_seq = EXCLUDED.applied_seq
     WHERE webhooks.case_departments.applied_seq < EXCLUDED.applied_seq
), checkpoint AS (
    INSERT INTO webhooks.checkpoints (consumer, topic, partition, next_offset)
    SELECT $4, t, p, o FROM unnest($5::text[], $6::int[], $7::bigint[]) AS x(t, p, o)
    ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset
)
INSERT INTO webhooks.deliveries (endpoint_id, event_id, case_id, event_type, department, body,
                                 event_at, next_attempt_at)
SELECT *, now() + $15::interval
  FROM unnest($8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
              $14::timestamptz[])
ON CONFLICT (endpoint_id, event_id) DO NOTHING
RETURNING delivery_id, endpoint_id, event_id, body
"""


async def enqueue(
    conn: asyncpg.Connection,
    consumer: str,
    records: Sequence[LogRecord],
    box: SecretBox,
    endpoints: EndpointCache | None = None,
) -> list[Due]:
    """Apply ``records`` and queue their deliveries leased to the caller; return them to send."""
    events = _decode(records)
    rows = await conn.fetch(
        "SELECT case_id, departments, applied_seq FROM webhooks.case_departments"
        " WHERE case_id = ANY($1::text[])",
        sorted({e["case_id"] for e in events}),
    )
    state = {r["case_id"]: (list(r["departments"]), r["applied_seq"]) for r in rows}
    before = dict(state)
    targets = fold(events, state)
    changed = [k for k in state if state[k] != before.get(k)]
    known = await (endpoints or EndpointCache(0)).get(conn) if targets else {}
    deliveries, used = _deliveries(targets, known)
    positions: dict[tuple[str, int], int] = {}
    for rec in records:
        positions[(rec.topic, rec.partition)] = rec.offset + 1
    columns: list[list[Any]] = [list(c) for c in zip(*deliveries, strict=True)] or [[]] * 7
    inserted = await conn.fetch(
        WRITE,
        changed,
        [",".join(state[k][0]) for k in changed],
        [state[k][1] for k in changed],
        consumer,
        [t for t, _ in positions],
        [p for _, p in positions],
        list(positions.values()),
        *columns,
        LEASE,
    )
    return [
        Due(
            r["delivery_id"], r["endpoint_id"], r["event_id"], r["body"], 0,
            used[r["endpoint_id"]]["url"], valid_secrets(used[r["endpoint_id"]], box),
        )
        for r in inserted
    ]  # fmt: skip
