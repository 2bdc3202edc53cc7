"""Turn a batch of case events into queued deliveries, with the checkpoint, in one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from whistle.logs import get_logger
from whistle.webhooks.concern import concerned, departments_after
from whistle.webhooks.payload import delivery_body
from whistle.webhooks.store import NOTIFY_CHANNEL

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


async def _endpoints_by_department(
    conn: asyncpg.Connection, departments: set[str]
) -> dict[str, list[asyncpg.Record]]:
    rows = await conn.fetch(
        "SELECT endpoint_id, department, event_types, created_at FROM webhooks.endpoints"
        " WHERE enabled AND department = ANY($1::text[])",
        sorted(departments),
    )
    found: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        found.setdefault(row["department"], []).append(row)
    return found


async def _apply(conn: asyncpg.Connection, raw: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Update the case's departments; return (department, raw) pairs to deliver."""
    case_id, seq = str(raw["case_id"]), int(raw["seq"])
    row = await conn.fetchrow(
        "SELECT departments, applied_seq FROM webhooks.case_departments WHERE case_id = $1"
        " FOR UPDATE",
        case_id,
    )
    before = list(row["departments"]) if row else []
    if row and seq <= row["applied_seq"]:
        return []  # already applied: a replay
    after = departments_after(before, raw)
    await conn.execute(
        "INSERT INTO webhooks.case_departments (case_id, departments, applied_seq)"
        " VALUES ($1,$2,$3) ON CONFLICT (case_id) DO UPDATE"
        " SET departments = EXCLUDED.departments, applied_seq = EXCLUDED.applied_seq",
        case_id,
        after,
        seq,
    )
    return [(d, raw) for d in concerned(before, after, raw)]


async def enqueue(
    conn: asyncpg.Connection, consumer: str, records: Sequence[LogRecord]
) -> list[int]:
    """Apply ``records`` and queue their deliveries; return the new delivery ids."""
    new_ids: list[int] = []
    async with conn.transaction():
        targets: list[tuple[str, dict[str, Any]]] = []
        positions: dict[tuple[str, int], int] = {}
        for rec in records:
            positions[(rec.topic, rec.partition)] = rec.offset + 1
            try:
                raw = json.loads(rec.value or b"")
                targets += await _apply(conn, raw)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning(
                    "webhook_skip_record",
                    partition=rec.partition,
                    offset=rec.offset,
                    error=str(exc),
                )
        endpoints = await _endpoints_by_department(conn, {d for d, _ in targets})
        rows: list[tuple[Any, ...]] = []
        for department, raw in targets:
            for ep in endpoints.get(department, []):
                types = ep["event_types"]
                if types is not None and raw["type"] not in types:
                    continue
                when = _when(raw.get("occurred_at"))
                if when is not None and when < ep["created_at"] - REGISTRATION_SLACK:
                    continue  # an endpoint receives what happens after it was registered
                try:
                    body = delivery_body(raw, department)
                except ValueError as exc:
                    log.warning("webhook_bad_event", case_id=raw.get("case_id"), error=str(exc))
                    continue
                rows.append(
                    (
                        ep["endpoint_id"],
                        raw["event_id"],
                        raw["case_id"],
                        raw["type"],
                        department,
                        body,
                        when,
                    )
                )
        if rows:
            inserted = await conn.fetch(
                "INSERT INTO webhooks.deliveries (endpoint_id, event_id, case_id, event_type,"
                " department, body, event_at)"
                " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[],"
                " $5::text[], $6::text[], $7::timestamptz[])"
                " ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING delivery_id",
                *[list(col) for col in zip(*rows, strict=True)],
            )
            new_ids = [r["delivery_id"] for r in inserted]
        for (topic, partition), next_offset in positions.items():
            await conn.execute(
                "INSERT INTO webhooks.checkpoints (consumer, topic, partition, next_offset)"
                " VALUES ($1,$2,$3,$4) ON CONFLICT (consumer, topic, partition)"
                " DO UPDATE SET next_offset = EXCLUDED.next_offset",
                consumer,
                topic,
                partition,
                next_offset,
            )
        if new_ids:
            await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return new_ids
