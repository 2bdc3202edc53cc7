"""Pending deadlines and the system commands they fire: breaches, the escalation ladder, races."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.stories import (
    LEAD,
    T0,
    Story,
    ack,
    grant,
    pause,
    request_ext,
    resolve,
    resume,
    routed_story,
    system_breach_command,
    working_story,
)
from whistle.domain import (
    SYSTEM,
    BreachClock,
    CaseEscalated,
    ClockBreached,
    Escalate,
    breach_command,
    deadline_command,
    fire_due,
    pending_deadlines,
    pending_times,
)


def test_a_routed_case_has_one_breach_deadline_per_clock() -> None:
    story = routed_story()
    deadlines = {d.key: d for d in pending_deadlines(story.s)}
    assert set(deadlines) == set(story.s.clocks)
    assert deadlines["ack:transport"].due_at == T0 + timedelta(minutes=30)
    assert all(d.kind == "breach" for d in deadlines.values())


def test_deadline_commands_are_deterministic_system_commands() -> None:
    story = routed_story()
    [deadline] = [d for d in pending_deadlines(story.s) if d.key == "ack:transport"]
    first = deadline_command(story.s, deadline, T0 + timedelta(minutes=31))
    again = deadline_command(story.s, deadline, T0 + timedelta(minutes=40))
    assert isinstance(first, BreachClock) and first.actor == SYSTEM
    assert first.command_id == again.command_id == "deadline:K-0001:ack:transport"


def test_met_clocks_have_no_deadline() -> None:
    story = routed_story()
    story.do(ack(LEAD))
    assert f"ack:{LEAD}" not in {d.key for d in pending_deadlines(story.s)}


def test_acknowledged_one_second_before_the_deadline_fired_wins() -> None:
    story = routed_story()
    command = system_breach_command(story.s, "ack:transport", T0 + timedelta(minutes=30))
    story.do(ack("transport"), at=T0 + timedelta(minutes=30) - timedelta(seconds=1))
    assert story.attempt(command, at=T0 + timedelta(minutes=30)) == []


def test_an_early_firing_is_ignored() -> None:
    story = routed_story()
    command = system_breach_command(story.s, "ack:transport", T0 + timedelta(minutes=29))
    assert story.attempt(command) == []


def test_a_late_firing_records_its_lateness() -> None:
    story = routed_story()
    fired = T0 + timedelta(minutes=47)
    [event] = story.do(system_breach_command(story.s, "ack:transport", fired), at=fired)
    assert isinstance(event, ClockBreached)
    assert event.lateness == timedelta(minutes=17) and event.due_at == T0 + timedelta(minutes=30)
    assert story.s.clocks["ack:transport"].breached


def test_a_breach_of_an_extended_clock_is_ignored() -> None:
    story = working_story()
    key = f"resolve:{LEAD}"
    due = story.s.clocks[key].due_at
    stale = system_breach_command(story.s, key, due + timedelta(minutes=1))
    story.do(request_ext(LEAD, until=due + timedelta(days=2)))
    story.do(grant(key))
    assert story.attempt(stale, at=due + timedelta(minutes=1)) == []
    assert {d.key for d in pending_deadlines(story.s)} >= {f"{key}~1"}


def test_a_paused_clock_has_no_deadline_and_ignores_firings() -> None:
    story = working_story()
    key = f"resolve:{LEAD}"
    due = story.s.clocks[key].due_at
    stale = system_breach_command(story.s, key, due)
    story.do(pause(key))
    assert key not in {d.clock_key for d in pending_deadlines(story.s)}
    assert story.attempt(stale, at=due) == []
    story.do(resume(key), at=T0 + timedelta(hours=1))
    assert {d.key for d in pending_deadlines(story.s) if d.clock_key == key} == {f"{key}~1"}


def test_the_ladder_fires_rung_after_rung_then_stops() -> None:
    story = routed_story()
    due = T0 + timedelta(minutes=30)
    story.do(system_breach_command(story.s, "ack:transport", due), at=due)
    ladder = story.s.escalation_ladder
    fired: list[CaseEscalated] = []
    for level in range(1, len(ladder) + 1):
        [deadline] = [d for d in pending_deadlines(story.s) if d.clock_key == "ack:transport"]
        assert deadline.key == f"ack:transport:escalate:{level}"
        assert deadline.due_at == due + ladder[level - 1].after
        command = deadline_command(story.s, deadline, deadline.due_at + timedelta(seconds=2))
        assert isinstance(command, Escalate)
        [event] = story.do(command, at=deadline.due_at + timedelta(seconds=2))
        assert isinstance(event, CaseEscalated) and event.automatic
        assert event.lateness == timedelta(seconds=2)
        fired.append(event)
    assert [e.step for e in fired] == [r.step for r in ladder]
    assert [e.tier for e in fired][-1] == "district"
    assert not [d for d in pending_deadlines(story.s) if d.clock_key == "ack:transport"]
    assert story.s.escalation_tier == "district"


def test_a_ladder_rung_fired_twice_or_too_early_is_ignored() -> None:
    story = routed_story()
    due = T0 + timedelta(minutes=30)
    story.do(system_breach_command(story.s, "ack:transport", due), at=due)
    [rung1] = [d for d in pending_deadlines(story.s) if d.clock_key == "ack:transport"]
    command = deadline_command(story.s, rung1, rung1.due_at)
    story.do(command, at=rung1.due_at)
    assert story.attempt(command.model_copy(update={"command_id": "other"})) == []
    [rung2] = [d for d in pending_deadlines(story.s) if d.clock_key == "ack:transport"]
    early = deadline_command(story.s, rung2, rung2.due_at - timedelta(seconds=1))
    assert story.attempt(early) == []


def test_meeting_a_breached_clock_stops_its_ladder() -> None:
    story = routed_story()
    due = T0 + timedelta(minutes=30)
    story.do(system_breach_command(story.s, "ack:transport", due), at=due)
    [rung1] = [d for d in pending_deadlines(story.s) if d.clock_key == "ack:transport"]
    story.do(ack("transport"), at=due + timedelta(minutes=5))
    late = deadline_command(story.s, rung1, rung1.due_at + timedelta(hours=1))
    assert story.attempt(late) == []


def test_a_resolved_case_has_no_deadlines() -> None:
    story = working_story()
    story.do(resolve())
    assert pending_deadlines(story.s) == []


def breached_then_extended() -> tuple[Story, str, datetime]:
    """The lead's resolve clock: extension asked in time, breached, then the extension granted."""
    story = working_story()
    key = f"resolve:{LEAD}"
    due = story.s.clocks[key].due_at
    story.do(request_ext(LEAD, until=due + timedelta(days=2)), at=due - timedelta(hours=1))
    story.do(system_breach_command(story.s, key, due), at=due)
    assert story.s.clocks[key].breached
    story.do(grant(key), at=due + timedelta(hours=1))
    return story, key, due


def test_extension_clears_a_breach_and_the_clock_can_breach_again() -> None:
    story, key, due = breached_then_extended()
    assert not story.s.clocks[key].breached
    new_due = due + timedelta(days=2)
    [again] = story.do(system_breach_command(story.s, f"{key}~1", new_due), at=new_due)
    assert isinstance(again, ClockBreached) and again.command_id.endswith("~1")


def test_pending_times_name_and_time_every_pending_deadline() -> None:
    story = routed_story()
    due = T0 + timedelta(minutes=30)
    story.do(system_breach_command(story.s, "ack:transport", due), at=due)
    deadlines = pending_deadlines(story.s)
    assert {d.kind for d in deadlines} == {"breach", "escalate"}
    assert pending_times(story.s) == {d.key: d.due_at.timestamp() for d in deadlines}
    by = T0 + timedelta(hours=1)
    assert 0 < len(pending_deadlines(story.s, due_by=by)) < len(deadlines)
    assert pending_deadlines(story.s, due_by=by) == [d for d in deadlines if d.due_at <= by]


def test_a_breach_command_from_the_index_decides_as_the_state_built_one() -> None:
    story, _, _ = breached_then_extended()  # the clock's key is now resolve:…~1
    for d in pending_deadlines(story.s):
        fired = d.due_at + timedelta(seconds=3)
        built = breach_command(story.s.case_id, d.key, d.due_at.timestamp(), fired)
        if d.kind == "escalate":
            assert built is None
            continue
        expected = deadline_command(story.s, d, fired)
        assert built is not None and built.command_id == expected.command_id
        assert built.model_dump(exclude={"due_at"}) == expected.model_dump(exclude={"due_at"})
        assert story.attempt(built, at=fired) == story.attempt(expected, at=fired) != []


def test_deadline_commands_built_without_validation_equal_validated_ones() -> None:
    story = routed_story()
    due = T0 + timedelta(minutes=30)
    story.do(system_breach_command(story.s, "ack:transport", due), at=due)
    for d in pending_deadlines(story.s):
        command = deadline_command(story.s, d, d.due_at + timedelta(seconds=1))
        validated = type(command).model_validate_json(command.model_dump_json())
        assert validated == command
        assert validated.model_dump_json() == command.model_dump_json()


def test_fire_due_decides_everything_due_by_then_once_and_nothing_early() -> None:
    story = routed_story()
    assert fire_due(story.s, T0) == (story.s, [])
    late = T0 + timedelta(days=1)
    state, events = fire_due(story.s, late)
    assert {type(e) for e in events} == {ClockBreached, CaseEscalated}
    assert [e.seq for e in events] == list(range(story.s.seq + 1, story.s.seq + 1 + len(events)))
    assert pending_deadlines(state, due_by=late) == []
    assert fire_due(state, late) == (state, [])
    assert fire_due(story.s, late) == (state, events)  # deterministic
