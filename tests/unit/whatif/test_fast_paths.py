"""The replay's shortcuts give what the long way gives: rows as read off the log, the counts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import NamedTuple

import orjson

from bench.bench_whatif import DAYS, HORIZON, case_logs, changed_version, in_time_order
from tests.stories import T0
from whistle.config.versions import kind_document, seed_version, with_kind
from whistle.domain.codec import parse_event
from whistle.domain.configuration import packaged_configuration
from whistle.read.resolution_metrics import GROUPS
from whistle.whatif.answer import answer
from whistle.whatif.replay import CaseReplay, Proposed, RoutingProbe, _row_dict, same_context
from whistle.whatif.source import Reader
from whistle.whatif.tally import COUNTS, SideTally, Tally, replay_case


def test_a_replayed_event_reads_as_the_projector_reads_it_off_the_log() -> None:
    logs = [*case_logs("templates", 56), *case_logs("random", 200)]  # every template, 28 days
    types = set()
    for _, events in logs:
        for raw in events:
            event = parse_event(raw)
            types.add(event.type)
            assert _row_dict(event) == orjson.loads(raw)
    assert {"WhistleRaised", "CaseRouted", "ClockBreached", "CaseEscalated"} <= types


def _reference(side: SideTally, rows: object, escalations: Counter[str]) -> None:
    """The counts one ``bump`` at a time (how the read side's SQL counts them)."""

    def bump(grouping: str, group: object, name: str, by: int) -> None:
        if group is None or not by:
            return
        counts = side.groups.setdefault((grouping, str(group)), [0] * len(COUNTS))
        counts[COUNTS.index(name)] += int(by)

    def group_of(row: dict, grouping: str, column: str) -> object:
        if grouping == "all":
            return "all"
        return row.get(column) if grouping == "department" else row.get(grouping)

    groupings = (*GROUPS, "all")
    case = rows.case  # type: ignore[attr-defined]
    for a in rows.table("assignments").values():  # type: ignore[attr-defined]
        for g in groupings:
            k = group_of(a, g, "department")
            bump(g, k, "dispatched", 1)
            bump(g, k, "acknowledged_in_time", bool(a["acknowledged_in_time"]))
            bump(g, k, "acknowledged", a["acknowledged_at"] is not None)
            bump(g, k, "disputed", a["dispute_count"] > 0)
    for b in rows.table("callbacks").values():  # type: ignore[attr-defined]
        for g in groupings:
            k = group_of(b, g, "department")
            bump(g, k, "callbacks", 1)
            bump(g, k, "solved", bool(b["solved"]))
            bump(g, k, "satisfied", bool(b["satisfied"]))
            bump(g, k, "score_sum", b["score"] or 0)
            bump(g, k, "score_count", b["score"] is not None)
    for g in groupings:
        k = group_of(case, g, "lead_department")
        bump(g, k, "cases", 1)
        bump(g, k, "resolved", case["resolved_at"] is not None or case["reopen_count"] > 0)
        bump(g, k, "reopened", case["reopen_count"] > 0)
    for c in rows.table("clocks").values():  # type: ignore[attr-defined]
        for g in groupings:
            bump(g, group_of(c, g, "department"), "breaches", c["breaches"])
    for department, n in escalations.items():
        for g in groupings:
            bump(g, department if g == "department" else group_of(case, g, ""), "escalations", n)


def test_the_tally_counts_as_one_bump_per_count_would() -> None:
    proposed = Proposed(changed_version("templates"))
    proposed.enter()
    horizon = T0 + timedelta(days=DAYS + 30)
    tally = Tally(since=T0 - timedelta(days=1), until=T0 + timedelta(days=DAYS + 1))
    expected = (SideTally(), SideTally())
    for _, events in case_logs("templates", 112):
        outcome = replay_case([orjson.loads(e) for e in events], proposed, tally, horizon)
        assert outcome is not None and outcome.replayed is not None
        _reference(expected[0], outcome.original, outcome.escalations[0])
        _reference(expected[1], outcome.replayed, outcome.escalations[1])
    assert tally.original.groups == expected[0].groups
    assert tally.proposed.groups == expected[1].groups
    assert tally.proposed.groups != tally.original.groups


def _tally(logs: list[tuple[str, list[bytes]]], proposed: Proposed) -> Tally:
    proposed.enter()
    tally = Tally(since=T0 - timedelta(days=1), until=T0 + timedelta(days=DAYS + 1))
    for _, events in logs:
        replay_case([orjson.loads(e) for e in events], proposed, tally, HORIZON)
    return tally


def test_mirroring_the_cases_routed_as_they_were_gives_the_full_replay_s_answer() -> None:
    """600 story-built cases routed by the rules (disputes, breaches, ladders, extensions,
    pauses, reopenings) and the 56 templates, under a changed rule and a shorter ack budget:
    mirroring the cases
    the proposal routes as they were answers exactly what deciding every case answers."""
    logs = [*case_logs("random", 600), *case_logs("templates", 56)]
    version = changed_version("random")
    assert same_context(version, [seed_version(packaged_configuration())])
    full = _tally(logs, Proposed(version))
    mirrored = _tally(logs, Proposed(version, mirror=True))
    assert 0 < full.moved < len(logs)  # some cases move, most do not
    assert full.proposed.groups != full.original.groups
    assert answer(mirrored, version, HORIZON) == answer(full, version, HORIZON)
    assert mirrored.refused == full.refused


def test_a_case_routed_as_it_was_is_mirrored_and_a_moved_one_is_decided() -> None:
    version = changed_version("random")
    proposed = Proposed(version, mirror=True)
    proposed.enter()
    seen = {True: 0, False: 0}
    for case_id, events in case_logs("random", 300):
        replay = CaseReplay(case_id, proposed, HORIZON)
        for raw in events:
            replay.feed(orjson.loads(raw))
        outcome = replay.finish()
        moved = outcome.original.case["lead_department"] != (
            outcome.replayed.case["lead_department"] if outcome.replayed else None
        )
        assert not (moved and replay.mirrored)
        seen[replay.mirrored] += 1
    assert seen[True] > 0 and seen[False] > 0


def test_a_proposal_that_changes_the_calendar_is_never_mirrored() -> None:
    """A calendar (or areas, departments) decides later clocks: no case may be mirrored."""
    base = seed_version(packaged_configuration())
    years = kind_document(base.document, "calendars")
    years[0]["holidays"] = [*years[0]["holidays"], f"{years[0]['year']}-10-09"]
    changed = base.model_copy(update={"document": with_kind(base.document, "calendars", years)})
    assert changed.calendar != base.calendar
    assert not same_context(changed, [base])
    assert same_context(base, [base])


def test_delta_mode_around_the_original_side_answers_as_every_case_replayed() -> None:
    """Delta mode holds only the cases the proposal decides differently; put around the
    original side (here the log's own tally of it, as the read models give it live), it
    answers exactly what replaying every case answers, with most cases never held."""
    logs = [*case_logs("random", 600), *case_logs("templates", 56)]
    version = changed_version("random")
    full = _tally(logs, Proposed(version))
    delta = _tally(logs, Proposed(version, mirror=True, delta=True))
    assert len(logs) / 2 < delta.unchanged < len(logs)
    whole = delta.with_live(full.original)
    assert answer(whole, version, HORIZON) == answer(full, version, HORIZON)
    assert whole.original.weekly == full.original.weekly
    assert whole.proposed.weekly == full.proposed.weekly


class _Record(NamedTuple):
    key: bytes
    offset: int
    value: bytes


def _read(records: list[_Record], proposed: Proposed, tally: Tally) -> Reader:
    proposed.enter()
    reader = Reader(proposed, tally, HORIZON)
    reader.note(records)
    for start in range(0, len(records), 50):  # in batches, as fetched
        reader.take(records[start : start + 50])
    assert not reader.replays and not reader.done  # all finished at their last offset
    reader.close()
    return reader


def test_the_reader_counts_an_unchanged_case_s_later_records_without_reading_them() -> None:
    """One partition's records in time order (cases interleaved, as live) through both passes
    of a reader: in delta mode every case is finished and none left held, every event is
    counted, few cases are held at once, and the answer is that of every case replayed."""
    logs = list(case_logs("random", 300))
    version = changed_version("random")
    records = [
        _Record(key.encode(), offset, raw)
        for offset, (key, (raw,)) in enumerate(in_time_order(logs))
    ]
    since, until = T0 - timedelta(days=1), T0 + timedelta(days=DAYS + 1)
    full = _read(records, Proposed(version), Tally(since=since, until=until)).tally
    delta = _read(
        records, Proposed(version, mirror=True, delta=True), Tally(since, until, delta=True)
    ).tally
    assert delta.cases == full.cases == len(logs) and delta.events == full.events
    assert 0 < delta.unchanged < delta.cases
    assert delta.peak_open < full.peak_open / 2  # the unchanged end at their routing
    assert answer(delta.with_live(full.original), version, HORIZON) == answer(
        full, version, HORIZON
    )


def test_the_routing_probe_finds_the_cases_the_replay_mirrors() -> None:
    """The probe's verdict (no decision made) is the full replay's mirroring, case by case."""
    version = changed_version("random")
    proposed = Proposed(version, mirror=True)
    proposed.enter()
    verdicts = Counter[bool]()
    for case_id, events in [*case_logs("random", 600), *case_logs("templates", 56)]:
        decoded = [orjson.loads(e) for e in events]
        replay = CaseReplay(case_id, proposed, HORIZON)
        for event in decoded:
            replay.feed(event)
        replay.finish()
        probe = RoutingProbe(proposed)
        verdict = next((v for e in decoded if (v := probe.feed(e)) is not None), False)
        assert verdict == replay.mirrored, case_id
        verdicts[verdict] += 1
    assert verdicts[True] > 0 and verdicts[False] > 0


def test_a_replay_leaves_no_reference_cycles() -> None:
    """The readers take their batches with the cyclic collector paused (``gc_paused``): that
    is only free if what a replay drops is freed by reference counting alone."""
    import gc

    logs = [*case_logs("random", 300), *case_logs("templates", 56)]
    version = changed_version("random")
    gc.collect()
    gc.disable()
    try:
        _tally(logs, Proposed(version))
        _tally(logs, Proposed(version, mirror=True, delta=True))
        assert gc.collect() == 0
    finally:
        gc.enable()
