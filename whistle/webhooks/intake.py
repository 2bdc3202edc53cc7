"""Turn a batch of case events into queued deliveries, with the checkpoint, in one transaction.

A batch costs a handful of statements whatever its size: one read of the cases' departments,
one upsert of them, one read of the endpoints, one insert of the deliveries, one checkpoint.
New deliveries are inserted already leased to this worker (``next_attempt_at`` = now + lease)
and handed to its sender directly; should the worker die, the lease expires and any worker
sends them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from whistle.logs import get_logger
from whistle.webhooks.concern import concerned, departments_after
from whistle.webhooks.payload import cloudevent_of, delivery_body
from whistle.webhooks.secretbox import SecretBox
from whistle.webhooks.store import LEASE, NOTIFY_CHANNEL, Due, valid_secrets

log = get_logger()
REGISTRATION_SLACK = timedelta(minutes=1)


@dataclass(frozen=True)
class LogRecord:
    """One record read from the events topic."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _decode(records: Sequence[LogRecord]) -> list[dict[str, Any]]:
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


async def _route(conn: asyncpg.Connection, events: list[dict[str, Any]]) -> list[tuple[str, dict]]:
    """Fold the events into each case's departments; return (department, event) to deliver."""
    case_ids = sorted({e["case_id"] for e in events})
    rows = await conn.fetch(
        "SELECT case_id, departments, applied_seq FROM webhooks.case_departments"
        " WHERE case_id = ANY($1::text[]) FOR UPDATE",
        case_ids,
    )
    state: dict[str, tuple[list[str], int]] = {
        r["case_id"]: (list(r["departments"]), r["applied_seq"]) for r in rows
    }
    targets: list[tuple[str, dict[str, Any]]] = []
    for raw in events:
        before, applied = state.get(raw["case_id"], ([], 0))
        if raw["seq"] <= applied:
            continue  # already applied: a replay
        after = departments_after(before, raw)
        state[raw["case_id"]] = (after, raw["seq"])
        targets += [(d, raw) for d in concerned(before, after, raw)]
    if state:
        keys = list(state)
        await conn.execute(
            "INSERT INTO webhooks.case_departments (case_id, departments, applied_seq)"
            " SELECT k, coalesce(string_to_array(NULLIF(d, ''), ','), '{}'), s"
            " FROM unnest($1::text[], $2::text[], $3::int[]) AS t(k, d, s)"
            " ON CONFLICT (case_id) DO UPDATE"
            " SET departments = EXCLUDED.departments, applied_seq = EXCLUDED.applied_seq",
            keys,
            [",".join(state[k][0]) for k in keys],
            [state[k][1] for k in keys],
        )
    return targets


async def _endpoints(conn: asyncpg.Connection, departments: set[str]) -> dict[str, list[Any]]:
    rows = await conn.fetch(
        "SELECT *, now() AS now FROM webhooks.endpoints"
        " WHERE enabled AND department = ANY($1::text[])",
        sorted(departments),
    )
    found: dict[str, list[Any]] = {}
    for row in rows:
        found.setdefault(row["department"], []).append(row)
    return found


async def enqueue(
    conn: asyncpg.Connection, consumer: str, records: Sequence[LogRecord], box: SecretBox
) -> list[Due]:
    """Apply ``records``, queue their deliveries leased to the caller; return them to send."""
    async with conn.transaction():
        targets = await _route(conn, _decode(records))
        endpoints = await _endpoints(conn, {d for d, _ in targets}) if targets else {}
        rows: list[tuple[Any, ...]] = []
        by_endpoint: dict[int, Any] = {}
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
                body = delivery_body(raw, department, cloudevent)
                by_endpoint[ep["endpoint_id"]] = ep
                rows.append(
                    (ep["endpoint_id"], raw["event_id"], raw["case_id"], raw["type"],
                     department, body, when)
                )  # fmt: skip
        inserted: list[asyncpg.Record] = []
        if rows:
            inserted = await conn.fetch(
                "INSERT INTO webhooks.deliveries (endpoint_id, event_id, case_id, event_type,"
                " department, body, event_at, next_attempt_at)"
                " SELECT *, now() + $8::interval FROM unnest($1::bigint[], $2::text[],"
                " $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])"
                " ON CONFLICT (endpoint_id, event_id) DO NOTHING"
                " RETURNING delivery_id, endpoint_id, event_id, body",
                *[list(col) for col in zip(*rows, strict=True)],
                LEASE,
            )
        await _checkpoint(conn, consumer, records)
    return [
        Due(
            r["delivery_id"], r["endpoint_id"], r["event_id"], r["body"], 0,
            by_endpoint[r["endpoint_id"]]["url"], valid_secrets(by_endpoint[r["endpoint_id"]], box),
        )
        for r in inserted
    ]  # fmt: skip


async def _checkpoint(
    conn: asyncpg.Connection, consumer: str, records: Sequence[LogRecord]
) -> None:
    positions: dict[tuple[str, int], int] = {}
    for rec in records:
        positions[(rec.topic, rec.partition)] = rec.offset + 1
    await conn.execute(
        "INSERT INTO webhooks.checkpoints (consumer, topic, partition, next_offset)"
        " SELECT $1, t, p, o FROM unnest($2::text[], $3::int[], $4::bigint[]) AS x(t, p, o)"
        " ON CONFLICT (consumer, topic, partition)"
        " DO UPDATE SET next_offset = EXCLUDED.next_offset",
        consumer,
        [t for t, _ in positions],
        [p for _, p in positions],
        list(positions.values()),
    )


__all__ = ["NOTIFY_CHANNEL", "LogRecord", "enqueue"]
