"""Reads a whole case-event topic and checks the log's invariants (used by fault tests)."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer


async def read_topic(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record value of ``topic`` (JSON), from the start to the current end."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        metadata_max_age_ms=500,  # without a group, partitions are assigned from metadata
    )
    await consumer.start()
    try:
        for _ in range(100):  # without a group, every partition is assigned once metadata is in
            tps = list(consumer.assignment())
            if tps:
                break
            await asyncio.sleep(0.1)
        assert tps, f"topic {topic} has no partitions"
        ends = await consumer.end_offsets(tps)
        out: list[dict[str, Any]] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            out += [_decoded(r.value) for rs in batch.values() for r in rs]
        return out
    finally:
        await consumer.stop()


def _decoded(value: bytes | None) -> dict[str, Any]:
    """A record's JSON object; poison (not JSON, not an object) becomes ``{"poison": ...}``."""
    try:
        decoded = json.loads(value or b"")
    except ValueError:
        decoded = None
    return decoded if isinstance(decoded, dict) else {"poison": value}


@dataclass
class LogReport:
    """What a fault test asserts on: gaps, conflicts, duplicates and effects per command."""

    cases: int = 0
    events: int = 0
    identical_redeliveries: int = 0
    gaps: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    effects: dict[str, int] = field(default_factory=dict)
    repeated_commands: list[str] = field(default_factory=list)


def check_log(events: list[dict[str, Any]]) -> LogReport:
    """Per case: seqs 1..n without gaps, one event per seq (identical repeats are counted),
    and each command's events in one unbroken run (a command applied twice leaves two)."""
    report = LogReport(events=len(events))
    by_case: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for event in events:
        if "seq" not in event or "case_id" not in event:
            continue  # poison: dead-lettered by the worker, not part of any case
        seen = by_case[event["case_id"]].get(event["seq"])
        if seen is None:
            by_case[event["case_id"]][event["seq"]] = event
        elif seen == event:
            report.identical_redeliveries += 1
        else:
            report.conflicts.append(f"{event['case_id']}#{event['seq']}")
    report.cases = len(by_case)
    for case_id, seqs in by_case.items():
        if sorted(seqs) != list(range(1, len(seqs) + 1)):
            report.gaps.append(case_id)
        runs: dict[str, list[int]] = defaultdict(list)
        for seq in sorted(seqs):
            runs[seqs[seq]["command_id"]].append(seq)
        for command_id, run in runs.items():
            report.effects[command_id] = len(run)
            if run != list(range(run[0], run[0] + len(run))):
                report.repeated_commands.append(command_id)  # applied twice: two separate runs
    return report
