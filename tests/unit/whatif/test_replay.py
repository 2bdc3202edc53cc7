"""The what-if replay: exact under the version in force, and two scenarios worked out by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from tests.stories import (
    JINHAI,
    SECRETARY,
    T0,
    ack,
    callback,
    close,
    contact,
    liaison,
    raise_whistle,
    resolve,
)
from tests.unit.whatif.live_log import live_log
from whistle.config.versions import ConfigVersion, kind_document, next_version, seed_version
from whistle.domain import Command, ResolveCase
from whistle.domain.configuration import packaged_configuration
from whistle.whatif.held import command_of, re_derived, unknown_commands, unmapped_events
from whistle.whatif.replay import CaseReplay, Proposed
from whistle.whatif.tally import Tally, replay_case

V1 = seed_version(packaged_configuration())
WEEK = "2025-09-22"  # the Monday of T0's week
RULE = "tongan.datong.jinhai.tourist_crowds"


def _proposed(kind: str, change: Any) -> ConfigVersion:
    """Version 2: version 1 with one kind's document changed by ``change``."""
    from whistle.config.versions import with_kind

    document = change(kind_document(V1.document, kind))  # type: ignore[arg-type]
    config = with_kind(V1.document, kind, document)  # type: ignore[arg-type]
    return next_version(
        V1, config, author="t", reason="what-if", effective_from=T0, published_at=T0
    )


def _tally(version: ConfigVersion, logs: list[list[dict[str, Any]]], horizon: datetime) -> Tally:
    proposed = Proposed(version)
    proposed.enter()
    tally = Tally(since=T0 - timedelta(days=1), until=T0 + timedelta(days=30))
    for log in logs:
        replay_case(log, proposed, tally, horizon)
    return tally


def _resolve_by(case_id: str, dept: str) -> ResolveCase:
    command = resolve(dept)
    return command.model_copy(update={"case_id": case_id})


def tourist_case(case_id: str, late: str = "culture_tourism") -> list[tuple[Command, datetime]]:
    """Raised at T0 (Mon 09:00); every department signs within 10 min but ``late`` at +40 min
    (the whistle policy's ack budget is 30 min); resolved at +1 h, called back, closed."""
    at = T0
    script: list[tuple[Command, datetime]] = [(raise_whistle(case_id), at)]
    for i, dept in enumerate(("urban_management", "public_security", "transport")):
        script.append((ack(dept, case_id), at + timedelta(minutes=5 + i)))
    script.append((ack(late, case_id), at + timedelta(minutes=40)))
    script.append((contact("urban_management", case_id), at + timedelta(minutes=45)))
    script.append((_resolve_by(case_id, "urban_management"), at + timedelta(hours=1)))
    cb = callback().model_copy(update={"case_id": case_id})
    script.append((cb, at + timedelta(minutes=70)))
    script.append((close().model_copy(update={"case_id": case_id}), at + timedelta(minutes=80)))
    return script


# ---- the inverse of the log ---------------------------------------------------------------
def test_every_event_type_names_the_command_that_records_it() -> None:
    assert unmapped_events() == []
    assert unknown_commands() == []


def test_a_command_rebuilt_from_its_event_decides_the_same_event_again() -> None:
    horizon = T0 + timedelta(days=3)
    log = live_log(V1, tourist_case("K-INV"), horizon)
    held = [e for e in log if not re_derived(e)]
    assert {e["type"] for e in held} >= {"WhistleRaised", "DepartmentAcknowledged", "CaseClosed"}
    for event in held:
        command = command_of(event)
        assert command is not None, event["type"]
        assert command.command_id == event["command_id"]
        assert command.actor.model_dump() == {**command.actor.model_dump(), **event["actor"]}


# ---- exact under the version in force -------------------------------------------------------
@pytest.mark.parametrize("lateness", [timedelta(0), timedelta(seconds=1.5)])
def test_replaying_under_the_version_in_force_gives_back_the_log_event_for_event(
    lateness: timedelta,
) -> None:
    horizon = T0 + timedelta(days=3)
    scripts = [
        tourist_case("K-A"),
        tourist_case("K-B", late="transport"),
        # never acknowledged by anyone: breaches and the whole ladder up to the horizon
        [(raise_whistle("K-C"), T0 + timedelta(hours=2))],
    ]
    for script in scripts:
        log = live_log(V1, script, horizon, lateness)
        proposed = Proposed(V1)
        proposed.enter()
        replay = CaseReplay(log[0]["case_id"], proposed, horizon, keep=True)
        for event in log:
            replay.feed(event)
        replay.finish()
        assert replay.kept == log
        assert sum(e["type"] == "ClockBreached" for e in log) >= 1


def test_both_sides_of_an_unchanged_version_have_the_same_figures() -> None:
    horizon = T0 + timedelta(days=3)
    logs = [live_log(V1, tourist_case(f"K-{i}"), horizon) for i in range(3)]
    logs.append(live_log(V1, [(raise_whistle("K-open"), T0)], horizon))
    tally = _tally(V1, logs, horizon)
    assert tally.cases == 4 and tally.moved == 0 and not tally.clock_changes
    for grouping in ("department", "community", "street", "district", "category", "all"):
        assert tally.original.rows(grouping) == tally.proposed.rows(grouping)
    assert tally.original.rows("all")["all"]["breaches"] > 0


# ---- worked out by hand: a category moved to another department ----------------------------
def _move_to_civil_affairs(doc: dict[str, Any]) -> dict[str, Any]:
    for rule in doc["rules"]:
        if rule["id"] == RULE:
            rule.update(lead="civil_affairs", supporting=[])
    return doc


def test_moving_jinhai_tourist_crowds_to_civil_affairs_matches_the_hand_figures() -> None:
    horizon = T0 + timedelta(hours=2)  # before the ladder's second reminder (due + 2 h)
    log = live_log(V1, tourist_case("K-MOVE"), horizon)
    tally = _tally(_proposed("routing", _move_to_civil_affairs), [log], horizon)
    before = tally.original.rows("all")["all"]
    after = tally.proposed.rows("all")["all"]
    # Original: 4 departments dispatched, 3 signed in time (culture_tourism at +40 min > 30),
    # 1 breach (its ack clock, fired at +30 min) with the ladder's first reminder (after 0);
    # one callback, solved and satisfied: 100 × (30 × 3/4 + 35 + 35) / 100 = 92.5.
    assert (before["dispatched"], before["acknowledged_in_time"]) == (4, 3)
    assert (before["breaches"], before["escalations"], before["callbacks"]) == (1, 1, 1)
    assert before["response_rate"] == 0.75 and before["score"] == pytest.approx(92.5)
    # Proposed: civil_affairs alone, which never saw the case: no acknowledgement of its own
    # (the four signed by the others are refused, not transferred), its ack clock breaches at
    # +30 min with one reminder; the resolution by urban_management's liaison is refused, so
    # no callback and no score.
    assert (after["dispatched"], after["acknowledged"], after["acknowledged_in_time"]) == (1, 0, 0)
    assert (after["breaches"], after["escalations"], after["callbacks"]) == (1, 1, 0)
    assert after["response_rate"] == 0.0 and after["resolution_rate"] is None
    assert after["score"] is None
    assert tally.proposed.rows("department")["civil_affairs"]["breaches"] == 1
    assert "civil_affairs" not in tally.original.rows("department")
    assert tally.rerouted == {("civil_affairs", WEEK): 1}
    assert tally.moved == 1
    moved = tally.moved_examples[0]
    assert moved["original"] == {
        "lead": "urban_management",
        "supporting": ["culture_tourism", "public_security", "transport"],
        "rule_id": RULE,
    }
    assert moved["proposed"] == {"lead": "civil_affairs", "supporting": [], "rule_id": RULE}
    refused = tally.refused
    assert sum(n for (kind, _), n in refused.items() if kind == "Acknowledge") == 4
    assert refused[("ResolveCase", "urban_management")] == 1
    assert refused[("RecordCallback", "")] == 1
    assert tally.proposed.weekly == {("civil_affairs", WEEK): 1}
    assert sum(tally.original.weekly.values()) == 4
    assert tally.clock_changes[("civil_affairs", "absent", "breached")] == 1
    assert tally.clock_changes[("culture_tourism", "breached", "absent")] == 1


# ---- worked out by hand: a holiday added moves a working-day clock past it -------------------
def water_case(case_id: str) -> list[tuple[Command, datetime]]:
    """A water-supply whistle (city rule: water alone, standard policy: contact within one
    working day) raised Mon 22 Sep 09:00; water signs at 09:10 and first contacts the
    requester Tue 23 Sep 15:00; resolved at 16:00, called back at 17:00."""
    water = "water"
    tuesday = T0 + timedelta(days=1)
    raised = raise_whistle(case_id, category="water_supply", title="停水", actor=SECRETARY)
    cb = callback().model_copy(update={"case_id": case_id})
    return [
        (raised, T0),
        (ack(water, case_id), T0 + timedelta(minutes=10)),
        (contact(water, case_id), tuesday.replace(hour=15)),
        (_resolve_by(case_id, water), tuesday.replace(hour=16)),
        (cb, tuesday.replace(hour=17)),
    ]


def _tuesday_a_holiday(years: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for year in years:
        if year["year"] == 2025:
            year["holidays"] = sorted({*year["holidays"], date(2025, 9, 23).isoformat()})
            year["ranges"] = []
    return years


def test_a_holiday_that_moves_a_contact_clock_past_the_contact_removes_its_breach() -> None:
    horizon = T0 + timedelta(days=3)
    log = live_log(V1, water_case("K-CAL"), horizon)
    proposed = _proposed("calendars", _tuesday_a_holiday)
    tally = _tally(proposed, [log], horizon)
    before = tally.original.rows("department")["water"]
    after = tally.proposed.rows("department")["water"]
    # Original: contact due Tue 09:00 (one working day after Mon 09:00), met at 15:00: one
    # breach at 09:00, the first reminder with it and the repeat 4 h later (13:00); the
    # supervision rung (due + 1 day) never comes, the contact at 15:00 meets the clock.
    assert (before["breaches"], before["escalations"]) == (1, 2)
    # Proposed: Tuesday off, the contact clock is due Wed 09:00: met in time, no breach.
    assert (after["breaches"], after["escalations"]) == (0, 0)
    assert before["response_rate"] == after["response_rate"] == 1.0
    assert tally.clock_changes == {("water", "breached", "met"): 1}
    assert tally.moved == 0 and not tally.rerouted
    assert JINHAI in tally.proposed.rows("community")
    assert liaison("water").department == "water"


def test_disputes_extensions_pauses_and_a_reopening_replay_event_for_event() -> None:
    """The held commands beyond a plain lifecycle rebuild from their events and decide the same
    events again: a dispute reassigned by a supervisor, an extension requested and granted, a
    pause and resume of every clock, a resolution, an unsatisfied callback and a reopening."""
    from tests.stories import (
        CASE,
        dispute,
        grant,
        pause,
        reopen,
        request_ext,
        resume,
        rule,
    )

    at = T0
    minutes = iter(range(1, 1000))

    def t() -> datetime:
        return at + timedelta(minutes=next(minutes) * 7)

    script: list[tuple[Command, datetime]] = [(raise_whistle(CASE), at)]
    script += [(ack(d, CASE), t()) for d in ("urban_management", "public_security")]
    script += [(dispute("transport", CASE), t()), (rule("transport", "civil_affairs", CASE), t())]
    script += [(ack("civil_affairs", CASE), t()), (contact("urban_management", CASE), t())]
    script += [(request_ext("urban_management", T0 + timedelta(days=12)), t())]
    script += [(grant("resolve:urban_management"), t())]
    script += [(pause(), t()), (resume(), T0 + timedelta(days=1, hours=2))]
    script += [(_resolve_by(CASE, "urban_management"), T0 + timedelta(days=2))]
    script += [
        (
            callback(solved=False, satisfied=False, fault="department"),
            T0 + timedelta(days=2, hours=1),
        )
    ]
    script += [(reopen(), T0 + timedelta(days=2, hours=2))]
    horizon = T0 + timedelta(days=4)
    log = live_log(V1, script, horizon, timedelta(seconds=0.7))
    types = {e["type"] for e in log}
    assert {"DisputeRuled", "ExtensionGranted", "ClockResumed", "CaseReopened"} <= types
    proposed = Proposed(V1)
    proposed.enter()
    replay = CaseReplay(CASE, proposed, horizon, keep=True)
    for event in log:
        replay.feed(event)
    outcome = replay.finish()
    assert not outcome.refused
    assert replay.kept == log
