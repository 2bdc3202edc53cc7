"""Apply one decoded event to the in-memory rows: seq dedupe, timeline row, then its handler."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from projections.handlers import HANDLERS
from projections.model import Model
from whistle.domain.codec import EVENT_TYPES, DecodeError, upcast
from whistle.logs import get_logger

log = get_logger()

CURRENT_VERSIONS: dict[str, int] = {name: cls.SCHEMA_VERSION for name, cls in EVENT_TYPES.items()}
"""The schema version the handlers read, by event type; older events are upcast first."""


@dataclass
class ApplyStats:
    """What happened to the records of a batch or a rebuild."""

    applied: int = 0
    duplicates: int = 0
    conflicts: int = 0
    invalid: int = 0
    gaps: int = 0
    unknown_types: int = 0
    older: list[tuple[str, int, str]] = field(default_factory=list)

    def add(self, other: ApplyStats) -> None:
        """Accumulate ``other`` into this one."""
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.conflicts += other.conflicts
        self.invalid += other.invalid
        self.gaps += other.gaps
        self.unknown_types += other.unknown_types


FULL_COLLECTION_EVERY = 50
"""Batches between two full collections of the frozen objects (see ``gc_paused``)."""
_batches = 0


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside; afterwards what is alive is frozen.

    Decoding and applying a batch allocates hundreds of thousands of small dicts that
    survive until the batch is written, on top of the cached rows: the collector's
    generational passes over them took a quarter to a third of the projector's CPU, and a
    pass over the whole cache more after it. Frozen objects are still freed by refcounting
    (event rows hold no reference cycles); only cycles among them wait for the full
    collection that runs every ``FULL_COLLECTION_EVERY`` batches.
    """
    global _batches
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            _batches += 1
            if _batches % FULL_COLLECTION_EVERY == 0:
                gc.unfreeze()
                gc.collect()
            gc.freeze()
            gc.enable()


def decode(value: bytes | None) -> dict[str, Any] | None:
    """The event as a dict, or None when the record is not a case event.

    orjson: decoding was the largest single cost of the projector (~29 % of its CPU with the
    standard library's decoder). The events come from our own log, so no pydantic validation
    here (the handlers read the few fields they need); an event older than its type's current
    schema version goes through the domain's upcasters, as ``parse_event`` would do.
    """
    if not value:
        return None
    try:
        event = orjson.loads(value)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("case_id"), str):
        return None
    if not isinstance(event.get("seq"), int) or not isinstance(event.get("type"), str):
        return None
    version = event.get("schema_version", 1)
    if isinstance(version, int) and version > CURRENT_VERSIONS.get(event["type"], 1):
        return None  # written by a newer Whistle: dead-lettered, not misread
    if isinstance(version, int) and version < CURRENT_VERSIONS.get(event["type"], 1):
        try:
            return upcast(event)
        except DecodeError:
            log.warning("event_not_upcast", case_id=event["case_id"], seq=event["seq"])
    return event


def apply_event(
    model: Model,
    event: dict[str, Any],
    raw: str,
    partition: int | None,
    offset: int | None,
    stats: ApplyStats,
    timeline: bool = True,
) -> None:
    """Apply ``event`` unless its seq is already applied to its case (then count it).

    ``timeline`` False: no timeline row, for a caller that never reads them (the what-if's
    replay, which applies some fifty events a case and would only throw the rows away)."""
    case_id: str = event["case_id"]
    seq: int = event["seq"]
    rows = model.case_rows(case_id)
    case = rows.case
    applied = case["applied_seq"]
    if seq <= applied:
        if seq == applied and event.get("event_id") != case["last_event_id"]:
            stats.conflicts += 1
            log.error(
                "event_seq_conflict",
                case_id=case_id,
                seq=seq,
                event_id=event.get("event_id"),
                applied_event_id=case["last_event_id"],
            )
        elif seq == applied:
            stats.duplicates += 1
        else:
            stats.duplicates += 1
            stats.older.append((case_id, seq, str(event.get("event_id"))))
        return
    if seq != applied + 1:
        stats.gaps += 1
        log.error("event_seq_gap", case_id=case_id, seq=seq, applied_seq=applied)
    at = datetime.fromisoformat(event["occurred_at"])
    if timeline:
        actor = event.get("actor") or {}
        model.timeline.append(
            (
                case_id,
                seq,
                event.get("event_id"),
                event["type"],
                at,
                actor.get("user_id"),
                actor.get("role"),
                actor.get("department"),
                actor.get("area"),
                event.get("command_id"),
                raw,
                partition,
                offset,
            )
        )
    handler = HANDLERS.get(event["type"])
    if handler is None:
        stats.unknown_types += 1
        log.warning("event_type_unknown", case_id=case_id, seq=seq, type=event["type"])
    else:
        handler(model, rows, event, at)
    case["applied_seq"] = seq
    case["last_event_id"] = event.get("event_id")
    case["updated_at"] = at
    model.dirty.add(case_id)
    stats.applied += 1
