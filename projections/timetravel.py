"""Time travel: the state of a case as of any past instant, folded from its timeline events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from whistle.domain import fold, parse_event
from whistle.domain.state import CaseState, state_document

S = "projection"


async def events_until(conn: asyncpg.Connection, case_id: str, at: datetime) -> list[str]:
    """The raw JSON of the case's events that occurred at or before ``at``, in seq order."""
    records = await conn.fetch(
        f"SELECT body::text FROM {S}.case_events WHERE case_id = $1 AND occurred_at <= $2"
        " ORDER BY seq",
        case_id,
        at,
    )
    return [r[0] for r in records]


async def case_as_of(conn: asyncpg.Connection, case_id: str, at: datetime) -> CaseState | None:
    """The domain's case state after every event up to ``at`` (None: not raised yet)."""
    if at.tzinfo is None:
        raise ValueError("the instant must carry its time zone")
    bodies = await events_until(conn, case_id, at)
    if not bodies:
        return None
    return fold(parse_event(body) for body in bodies)


async def case_as_of_json(
    conn: asyncpg.Connection, case_id: str, at: datetime
) -> dict[str, Any] | None:
    """``case_as_of`` as a JSON-ready dict (for the API and the CLI)."""
    state = await case_as_of(conn, case_id, at)
    return None if state is None else state_document(state)
