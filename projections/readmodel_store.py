"""Load and write read-model rows and checkpoints with asyncpg (COPY for every write)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from projections.model import CaseRows, Model
from projections.tables import CASE_EVENTS, CASES, CHILD_TABLES, TABLES

DEFAULT_PROJECTOR = "read-models"


async def load_cases(conn: asyncpg.Connection, model: Model, case_ids: Iterable[str]) -> None:
    """Load the rows of ``case_ids`` not yet in ``model`` from the current search_path.

    The child tables are read only for the cases whose ``cases`` row exists: every write puts a
    case's row and its child rows in one transaction, so a case without its row has no child
    rows either. A catching-up projector's batches mostly raise new cases; they cost one
    lookup each instead of one per table.
    """
    wanted = [c for c in set(case_ids) if c not in model.cases]
    if not wanted:
        return
    found: list[str] = []
    for record in await conn.fetch("SELECT * FROM cases WHERE case_id = ANY($1::text[])", wanted):
        model.cases[record["case_id"]] = CaseRows(dict(record))
        model.stored.add(record["case_id"])
        found.append(record["case_id"])
    if not found:
        return
    for name, spec in CHILD_TABLES.items():
        key = spec.child_key
        sql = f"SELECT * FROM {name} WHERE case_id = ANY($1::text[])"
        for record in await conn.fetch(sql, found):
            row = dict(record)
            model.cases[record["case_id"]].table(name)[tuple(row[k] for k in key)] = row


def case_records(model: Model, case_ids: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Snapshot the rows of ``case_ids`` as COPY records, by table."""
    ids = list(case_ids)
    out: dict[str, list[tuple[Any, ...]]] = {
        CASES.name: [CASES.record(model.cases[c].case) for c in ids]
    }
    for name, spec in CHILD_TABLES.items():
        out[name] = [
            spec.record(row) for c in ids for row in model.cases[c].children.get(name, {}).values()
        ]
    return out


async def delete_cases(conn: asyncpg.Connection, case_ids: list[str]) -> None:
    """Delete every row of ``case_ids`` from the per-case tables (not the timeline)."""
    if case_ids:
        for name in (CASES.name, *CHILD_TABLES):
            await conn.execute(f"DELETE FROM {name} WHERE case_id = ANY($1::text[])", case_ids)


async def copy_rows(conn: asyncpg.Connection, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """COPY the records of each table."""
    for name, records in rows.items():
        if records:
            await conn.copy_records_to_table(
                name, records=records, columns=TABLES[name].column_names
            )


async def write_cases(
    conn: asyncpg.Connection, model: Model, case_ids: Iterable[str], replace: bool
) -> int:
    """Write the rows of ``case_ids``; when ``replace``, first delete the old rows of those
    already stored (``model.stored``)."""
    ids = list(case_ids)
    if not ids:
        return 0
    old = [c for c in ids if c in model.stored]
    if replace and old:
        for name in (CASES.name, *CHILD_TABLES):
            await conn.execute(f"DELETE FROM {name} WHERE case_id = ANY($1::text[])", old)
    cases = [CASES.record(model.cases[c].case) for c in ids]
    await conn.copy_records_to_table(CASES.name, records=cases, columns=CASES.column_names)
    for name, spec in CHILD_TABLES.items():
        records = [
            spec.record(row) for c in ids for row in model.cases[c].children.get(name, {}).values()
        ]
        if records:
            await conn.copy_records_to_table(name, records=records, columns=spec.column_names)
    return len(ids)


async def write_timeline(conn: asyncpg.Connection, model: Model) -> int:
    """Append the timeline rows collected in ``model`` and forget them."""
    rows = model.timeline
    if rows:
        await conn.copy_records_to_table(
            CASE_EVENTS.name, records=rows, columns=CASE_EVENTS.column_names
        )
    model.timeline = []
    return len(rows)


async def applied_event_ids(
    conn: asyncpg.Connection, keys: list[tuple[str, int, str]]
) -> dict[tuple[str, int], str]:
    """Event ids already in the timeline for the given (case_id, seq) keys."""
    if not keys:
        return {}
    records = await conn.fetch(
        "SELECT e.case_id, e.seq, e.event_id FROM case_events e"
        " JOIN unnest($1::text[], $2::int[]) k(case_id, seq) USING (case_id, seq)",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r["case_id"], r["seq"]): r["event_id"] for r in records}


@dataclass(frozen=True)
class Position:
    """Where the projector is in one partition, and what it saw of that partition."""

    next_offset: int
    high_watermark: int = 0
    last_event_at: datetime | None = None


async def read_checkpoints(
    conn: asyncpg.Connection, projector: str, topic: str
) -> dict[int, Position]:
    """The stored positions of ``projector`` in ``topic`` by partition."""
    records = await conn.fetch(
        "SELECT partition, next_offset, high_watermark, last_event_at FROM checkpoints"
        " WHERE projector = $1 AND topic = $2",
        projector,
        topic,
    )
    return {
        r["partition"]: Position(r["next_offset"], r["high_watermark"], r["last_event_at"])
        for r in records
    }


async def init_checkpoints(
    conn: asyncpg.Connection, projector: str, topic: str, partitions: Iterable[int]
) -> None:
    """Create a checkpoint at offset 0 for every partition that has none."""
    parts = list(partitions)
    await conn.execute(
        "INSERT INTO checkpoints (projector, topic, partition)"
        " SELECT $1, $2, p FROM unnest($3::int[]) p ON CONFLICT DO NOTHING",
        projector,
        topic,
        parts,
    )


class CheckpointMoved(RuntimeError):
    """The stored position is not where this projector left it (another writer, or a swap)."""


async def advance_checkpoints(
    conn: asyncpg.Connection,
    projector: str,
    topic: str,
    expected: Mapping[int, int],
    positions: Mapping[int, Position],
) -> None:
    """Move the checkpoints from ``expected`` to ``positions``, fenced: raise if they moved."""
    parts = sorted(positions)
    status = await conn.execute(
        "UPDATE checkpoints c SET next_offset = v.next_offset, high_watermark = v.hw,"
        " last_event_at = coalesce(v.last_at, c.last_event_at), updated_at = now()"
        " FROM unnest($3::int[], $4::bigint[], $5::bigint[], $6::bigint[], $7::timestamptz[])"
        "   AS v(partition, expected, next_offset, hw, last_at)"
        " WHERE c.projector = $1 AND c.topic = $2 AND c.partition = v.partition"
        "   AND c.next_offset = v.expected",
        projector,
        topic,
        parts,
        [expected[p] for p in parts],
        [positions[p].next_offset for p in parts],
        [positions[p].high_watermark for p in parts],
        [positions[p].last_event_at for p in parts],
    )
    if int(status.split()[-1]) != len(parts):
        raise CheckpointMoved(f"{projector}/{topic}: checkpoint moved under this projector")


async def write_checkpoints(
    conn: asyncpg.Connection, projector: str, topic: str, positions: Mapping[int, Position]
) -> None:
    """Set the checkpoints to ``positions`` unconditionally (rebuild)."""
    await conn.executemany(
        "INSERT INTO checkpoints"
        " (projector, topic, partition, next_offset, high_watermark, last_event_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (projector, topic, partition) DO UPDATE"
        " SET next_offset = EXCLUDED.next_offset, high_watermark = EXCLUDED.high_watermark,"
        " last_event_at = EXCLUDED.last_event_at, updated_at = now()",
        [
            (projector, topic, p, pos.next_offset, pos.high_watermark, pos.last_event_at)
            for p, pos in positions.items()
        ],
    )
