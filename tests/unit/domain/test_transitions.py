"""Given events, when a command, then events or a rejection — for every lifecycle transition."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from tests.stories import (
    ADMIN,
    CASE,
    JINHAI,
    LEAD,
    SECRETARY,
    SUPERVISOR,
    T0,
    Story,
    ack,
    callback,
    cid,
    close,
    complete,
    contact,
    dispute,
    duplicate,
    escalate,
    grant,
    joint,
    liaison,
    pause,
    progress,
    publish,
    raise_whistle,
    refuse,
    reopen,
    report_in,
    request_ext,
    resolve,
    resume,
    routed_story,
    rule,
    withdraw,
    working_story,
)
from whistle.domain import (
    Actor,
    CaseRouted,
    ClockPaused,
    ClockResumed,
    DepartmentAcknowledged,
    DepartmentReportedIn,
    ExtensionGranted,
    RaiseWhistle,
    WhistleRaised,
    decide,
    event_id_for,
    pending_deadlines,
)
from whistle.domain.rejections import MESSAGES

# --- raise ------------------------------------------------------------------------------------


def test_raise_starts_a_case_at_seq_1_with_a_deterministic_event_id() -> None:
    command = raise_whistle()
    [event] = Story().do(command)
    assert isinstance(event, WhistleRaised)
    assert event.seq == 1 and event.case_id == CASE and event.occurred_at == T0
    assert event.event_id == event_id_for(command.command_id, 1)
    assert event.actor == SECRETARY and event.schema_version == 2


def test_raise_twice_is_case_exists() -> None:
    story = Story()
    story.do(raise_whistle())
    story.rejected(raise_whistle(), "case_exists")


def test_raise_in_an_unknown_community_is_unknown_area() -> None:
    Story().rejected(raise_whistle(community="tongan.datong.nowhere", actor=ADMIN), "unknown_area")


def test_raise_with_a_compound_outside_the_community_is_unknown_area() -> None:
    Story().rejected(
        raise_whistle(compound="haicang.xinyang.xinyang.vanke", actor=ADMIN), "unknown_area"
    )


def test_raise_by_a_secretary_of_another_community_is_outside_your_area() -> None:
    other = Actor(user_id="sec-fx", role="secretary", area="tongan.datong.fengxiang")
    command = RaiseWhistle(
        **{**raise_whistle().model_dump(exclude={"actor", "command_id"}), "actor": other},
        command_id=cid(),
    )
    result = decide(None, command, T0)
    assert not isinstance(result, list) and result.code == "outside_your_area"


def test_a_liaison_may_not_raise_a_whistle() -> None:
    command = raise_whistle().model_copy(update={"actor": liaison(LEAD)})
    result = decide(None, command, T0)
    assert not isinstance(result, list) and result.code == "role_not_allowed"


def test_any_command_on_a_missing_case_is_case_not_found() -> None:
    Story().rejected(ack(LEAD), "case_not_found")


def test_a_command_for_another_case_is_wrong_case() -> None:
    story = routed_story()
    story.rejected(ack(LEAD, case_id="K-other"), "wrong_case")


# --- route ------------------------------------------------------------------------------------


def test_route_assigns_departments_and_starts_every_clock() -> None:
    story = Story()
    story.do(raise_whistle())
    [event] = story.do(story.routing())
    assert isinstance(event, CaseRouted)
    assert story.s.status == "routed"
    assert set(story.s.clocks) == {f"ack:{d}" for d in story.s.assignments} | {
        f"contact:{LEAD}",
        f"joint_action:{LEAD}",
        f"resolve:{LEAD}",
    }


def test_route_twice_is_already_routed() -> None:
    story = routed_story()
    story.rejected(story.routing().model_copy(update={"command_id": cid()}), "already_routed")


def test_route_retried_with_the_same_command_id_is_a_no_op() -> None:
    story = routed_story()
    assert story.attempt(story.routing()) == []


def test_route_to_an_unknown_department_is_refused() -> None:
    story = Story()
    story.do(raise_whistle())
    story.rejected(
        story.routing().model_copy(update={"lead": "ministry_of_magic"}), "unknown_department"
    )


def test_route_by_a_secretary_is_refused() -> None:
    story = Story()
    story.do(raise_whistle())
    story.rejected(story.routing().model_copy(update={"actor": SECRETARY}), "role_not_allowed")


# --- acknowledge ------------------------------------------------------------------------------


def test_acknowledge_within_the_deadline() -> None:
    story = routed_story()
    [event] = story.later(minutes=5).do(ack(LEAD))
    assert isinstance(event, DepartmentAcknowledged) and event.within_deadline is True
    assert story.s.assignments[LEAD].acknowledged_at == story.now
    assert story.s.clocks[f"ack:{LEAD}"].met_at == story.now
    assert story.s.status == "in_progress"


def test_supporting_acknowledgement_leaves_the_case_routed() -> None:
    story = routed_story()
    story.do(ack("transport"))
    assert story.s.status == "routed"


def test_repeated_acknowledgement_is_a_no_op() -> None:
    story = routed_story()
    story.do(ack(LEAD))
    assert story.attempt(ack(LEAD)) == []


def test_acknowledge_by_a_department_not_on_the_case() -> None:
    routed_story().rejected(ack("water"), "not_routed_to_department")


def test_acknowledge_for_another_department_is_not_your_department() -> None:
    routed_story().rejected(ack(LEAD, actor=liaison("transport")), "not_your_department")


def test_acknowledge_before_routing_is_not_routed() -> None:
    story = Story()
    story.do(raise_whistle())
    story.rejected(ack(LEAD), "not_routed")


def test_admin_may_acknowledge_on_behalf() -> None:
    routed_story().do(ack(LEAD, actor=ADMIN))


# --- dispute and ruling -----------------------------------------------------------------------


def test_dispute_is_recorded_and_the_clock_keeps_running() -> None:
    story = routed_story()
    due = story.s.clocks["ack:culture_tourism"].due_at
    story.do(dispute("culture_tourism"))
    assert story.s.assignments["culture_tourism"].disputed
    assert story.s.clocks["ack:culture_tourism"].due_at == due


def test_second_dispute_while_pending_is_refused() -> None:
    story = routed_story()
    story.do(dispute("transport"))
    story.rejected(dispute("transport"), "dispute_pending")


def test_dispute_after_completion_is_refused() -> None:
    story = working_story()
    story.do(complete("transport"))
    story.rejected(dispute("transport"), "assignment_completed")


def test_uphold_keeps_the_department() -> None:
    story = routed_story()
    story.do(dispute("transport"))
    story.do(rule("transport"))
    assert not story.s.assignments["transport"].disputed
    assert story.s.assignments["transport"].disputes == 1


def test_reassigning_the_lead_moves_its_clocks_and_starts_a_new_acknowledge_clock() -> None:
    story = routed_story()
    resolve_due = story.s.clocks[f"resolve:{LEAD}"].due_at
    story.do(dispute(LEAD))
    story.later(hours=1).do(rule(LEAD, new="housing"))
    assert story.s.lead == "housing" and LEAD not in story.s.assignments
    assert story.s.clocks["resolve:housing"].due_at == resolve_due
    assert story.s.clocks["ack:housing"].started_at == story.now
    assert f"ack:{LEAD}" not in story.s.clocks


def test_ruling_without_an_open_dispute_is_refused() -> None:
    routed_story().rejected(rule("transport"), "no_open_dispute")


def test_reassign_to_a_department_already_on_the_case_is_refused() -> None:
    story = routed_story()
    story.do(dispute("transport"))
    story.rejected(rule("transport", new="public_security"), "department_already_assigned")


def test_a_liaison_cannot_rule_on_disputes() -> None:
    story = routed_story()
    story.do(dispute("transport"))
    command = rule("transport").model_copy(update={"actor": liaison("transport")})
    story.rejected(command, "role_not_allowed")


def test_a_supervisor_of_another_street_is_outside_your_area() -> None:
    story = routed_story()
    story.do(dispute("transport"))
    other = Actor(user_id="sup-xp", role="supervisor", area="tongan.xiangping")
    story.rejected(rule("transport").model_copy(update={"actor": other}), "outside_your_area")


# --- contact, joint action, progress, completion ----------------------------------------------


def test_contact_meets_the_contact_clock() -> None:
    story = working_story()
    story.do(contact(LEAD))
    assert story.s.clocks[f"contact:{LEAD}"].met_at == story.now


def test_contact_before_acknowledging_is_refused() -> None:
    routed_story().rejected(contact(LEAD), "not_acknowledged")


def test_joint_action_with_a_department_not_on_the_case_is_refused() -> None:
    working_story().rejected(joint((LEAD, "water"), at=T0), "not_routed_to_department")


def test_joint_action_by_a_supporting_liaison_is_refused() -> None:
    story = working_story()
    story.rejected(joint((LEAD,), at=T0, by=liaison("transport")), "not_your_department")


def test_scheduling_a_joint_action_leaves_its_clock_running() -> None:
    story = working_story()
    story.do(joint((LEAD, "transport"), at=T0 + timedelta(hours=2)))
    clock = story.s.clocks[f"joint_action:{LEAD}"]
    assert clock.met_at is None and clock.running
    assert f"joint_action:{LEAD}" in {d.key for d in pending_deadlines(story.s)}


def test_report_in_is_recorded_and_the_last_arrival_meets_the_joint_action_clock() -> None:
    story = working_story()
    story.do(joint((LEAD, "transport"), at=T0 + timedelta(hours=2)))
    (first,) = story.later(hours=2).do(report_in("transport"))
    assert isinstance(first, DepartmentReportedIn)
    assert (first.action_id, first.department, first.assembled) == ("ja-1", "transport", False)
    assert story.s.joint_actions[0].reported_in == {"transport": story.now}
    assert story.s.clocks[f"joint_action:{LEAD}"].met_at is None
    (last,) = story.later(minutes=20).do(report_in(LEAD))
    assert last.assembled
    assert story.s.clocks[f"joint_action:{LEAD}"].met_at == story.now


def test_report_in_twice_is_already_reported_in() -> None:
    story = working_story()
    story.do(joint((LEAD, "transport"), at=T0))
    story.do(report_in("transport"))
    rejection = story.rejected(report_in("transport"), "already_reported_in")
    assert rejection.message_zh is not None and "已于" in rejection.message_zh
    assert rejection.params["action_id"] == "ja-1"


def test_report_in_by_a_department_outside_the_joint_action_is_refused() -> None:
    story = working_story()
    story.do(joint((LEAD, "transport"), at=T0))
    story.rejected(report_in("public_security"), "not_in_joint_action")
    story.rejected(report_in("public_security", action_id="ja-1"), "not_in_joint_action")


def test_report_in_without_a_joint_action_or_to_an_unknown_one_is_refused() -> None:
    story = working_story()
    story.rejected(report_in("transport"), "no_joint_action")
    story.do(joint((LEAD, "transport"), at=T0))
    story.rejected(report_in("transport", action_id="ja-7"), "unknown_joint_action")


def test_report_in_for_another_department_or_before_signing_is_refused() -> None:
    story = working_story()
    story.do(joint((LEAD, "transport"), at=T0))
    story.rejected(report_in("transport", actor=liaison(LEAD)), "not_your_department")
    fresh = routed_story()
    fresh.do(ack(LEAD))
    fresh.do(joint((LEAD, "transport"), at=T0))
    fresh.rejected(report_in("transport"), "not_acknowledged")


def test_report_in_goes_to_the_latest_joint_action_naming_the_department() -> None:
    story = working_story()
    story.do(joint((LEAD, "transport"), at=T0))
    story.do(joint((LEAD, "public_security"), at=T0 + timedelta(days=1)))
    (event,) = story.do(report_in(LEAD))
    assert event.action_id == "ja-2"
    (event,) = story.do(report_in("transport"))
    assert event.action_id == "ja-1" and not event.assembled


def test_progress_on_an_unknown_joint_action_is_refused() -> None:
    story = working_story()
    command = progress(LEAD).model_copy(update={"action_id": "ja-9"})
    story.rejected(command, "unknown_joint_action")


def test_completion_twice_is_refused() -> None:
    story = working_story()
    story.do(complete("transport"))
    story.rejected(complete("transport"), "already_completed")


def test_completion_with_a_pending_dispute_is_refused() -> None:
    story = working_story()
    story.do(dispute("transport"))
    story.rejected(complete("transport"), "dispute_pending")


# --- resolve, callback, reopen, close, publish ------------------------------------------------


def test_resolve_without_joint_action_needs_only_the_lead() -> None:
    story = working_story()
    story.do(resolve())
    assert story.s.status == "resolved"
    assert story.s.clocks[f"resolve:{LEAD}"].met_at == story.now


def test_resolve_before_the_lead_acknowledged_is_refused() -> None:
    routed_story().rejected(resolve(), "not_acknowledged")


def test_resolve_while_a_joint_action_department_has_not_reported() -> None:
    story = working_story()
    story.do(joint((LEAD, "transport"), at=T0 + timedelta(hours=2)))
    rejection = story.rejected(resolve(), "joint_action_incomplete")
    assert rejection.params == {"departments": "transport"}
    assert "Transport Bureau" in rejection.message and "交通运输局" in str(rejection.message_zh)


def test_resolve_by_a_supporting_department_is_refused() -> None:
    working_story().rejected(resolve("transport"), "not_your_department")


def test_resolve_twice_is_case_resolved() -> None:
    story = working_story()
    story.do(resolve())
    story.rejected(resolve(), "case_resolved")


def test_callback_before_resolution() -> None:
    working_story().rejected(callback(), "callback_before_resolution")


def test_reopen_after_an_unsatisfied_callback_restarts_the_resolve_clock() -> None:
    story = working_story()
    story.do(resolve())
    story.later(days=1).do(callback(solved=False, satisfied=False, fault="department"))
    story.do(reopen())
    clock = story.s.clocks[f"resolve:{LEAD}"]
    assert story.s.status == "in_progress"
    assert clock.started_at == story.now and clock.met_at is None and clock.generation == 1


def test_reopen_without_callback_is_refused() -> None:
    story = working_story()
    story.do(resolve())
    story.rejected(reopen(), "callback_missing")


def test_reopen_after_a_satisfied_callback_is_not_warranted() -> None:
    story = working_story()
    story.do(resolve())
    story.do(callback())
    story.rejected(reopen(), "reopen_not_warranted")


def test_reopen_when_the_requester_is_at_fault_is_not_warranted() -> None:
    story = working_story()
    story.do(resolve())
    story.do(callback(solved=False, satisfied=False, fault="requester"))
    story.rejected(reopen(), "reopen_not_warranted")


def test_reopen_an_open_case_is_not_resolved() -> None:
    working_story().rejected(reopen(), "not_resolved")


def test_close_after_callback_and_then_reopen_is_still_possible() -> None:
    story = working_story()
    story.do(resolve())
    story.do(callback(solved=True, satisfied=False, fault="department"))
    story.do(close())
    assert story.s.status == "closed"
    story.do(reopen())
    assert story.s.status == "in_progress" and story.s.closed_at is None


def test_close_without_callback_is_refused() -> None:
    story = working_story()
    story.do(resolve())
    story.rejected(close(), "callback_missing")


def test_close_an_open_case_is_not_resolved() -> None:
    working_story().rejected(close(), "not_resolved")


def test_publish_after_resolution_once() -> None:
    story = working_story()
    story.rejected(publish(), "not_resolved")
    story.do(resolve())
    story.do(publish())
    assert story.s.published_at == story.now
    story.rejected(publish(), "already_published")


# --- withdraw and duplicate -------------------------------------------------------------------


def test_withdraw_ends_the_case_and_everything_after_is_case_finished() -> None:
    story = routed_story()
    story.do(withdraw())
    assert story.s.status == "withdrawn"
    story.rejected(ack(LEAD), "case_finished")
    story.rejected(withdraw(), "case_finished")


def test_withdraw_a_resolved_case_is_refused() -> None:
    story = working_story()
    story.do(resolve())
    story.rejected(withdraw(), "case_resolved")


def test_mark_duplicate() -> None:
    story = routed_story()
    story.do(duplicate("K-0000"))
    assert story.s.status == "duplicate" and story.s.duplicate_of == "K-0000"
    story.rejected(callback(), "case_finished")


def test_a_case_cannot_duplicate_itself() -> None:
    routed_story().rejected(duplicate(CASE), "self_duplicate")


# --- extensions -------------------------------------------------------------------------------


def test_extension_requested_then_granted_moves_the_due_time() -> None:
    story = working_story()
    key = f"resolve:{LEAD}"
    due = story.s.clocks[key].due_at
    story.do(request_ext(LEAD, until=due + timedelta(days=3)))
    assert story.s.clocks[key].extension_requested_until == due + timedelta(days=3)
    story.rejected(request_ext(LEAD, until=due + timedelta(days=4)), "extension_pending")
    [granted] = story.do(grant(key))
    assert isinstance(granted, ExtensionGranted) and granted.previous_due_at == due
    assert story.s.clocks[key].due_at == due + timedelta(days=3)
    assert story.s.clocks[key].generation == 1


def test_extension_granted_to_a_supervisor_chosen_time() -> None:
    story = working_story()
    key = f"resolve:{LEAD}"
    due = story.s.clocks[key].due_at
    story.do(request_ext(LEAD, until=due + timedelta(days=3)))
    story.do(grant(key, until=due + timedelta(days=1)))
    assert story.s.clocks[key].due_at == due + timedelta(days=1)


def test_extension_refused_keeps_the_due_time() -> None:
    story = working_story()
    key = f"resolve:{LEAD}"
    due = story.s.clocks[key].due_at
    story.do(request_ext(LEAD, until=due + timedelta(days=3)))
    story.do(refuse(key))
    assert story.s.clocks[key].due_at == due
    assert story.s.clocks[key].extension_requested_until is None


def test_extension_after_the_deadline_is_refused() -> None:
    story = working_story()
    due = story.s.clocks[f"resolve:{LEAD}"].due_at
    story.rejected(
        request_ext(LEAD, until=due + timedelta(days=1)),
        "extension_after_deadline",
        at=due + timedelta(seconds=1),
    )


def test_extension_to_an_earlier_time_is_refused() -> None:
    story = working_story()
    due = story.s.clocks[f"resolve:{LEAD}"].due_at
    story.rejected(request_ext(LEAD, until=due - timedelta(hours=1)), "extension_not_later")


def test_extension_on_a_missing_clock_is_refused() -> None:
    working_story().rejected(
        request_ext("transport", until=T0 + timedelta(days=30)), "clock_not_found"
    )


def test_extension_on_a_met_clock_is_refused() -> None:
    story = working_story()
    story.rejected(request_ext(LEAD, until=T0 + timedelta(days=1), clock="ack"), "clock_met")


def test_grant_without_a_request_is_refused() -> None:
    working_story().rejected(grant(f"resolve:{LEAD}"), "no_extension_request")


def test_refuse_without_a_request_is_refused() -> None:
    working_story().rejected(refuse(f"resolve:{LEAD}"), "no_extension_request")


def test_a_liaison_cannot_grant_extensions() -> None:
    story = working_story()
    due = story.s.clocks[f"resolve:{LEAD}"].due_at
    story.do(request_ext(LEAD, until=due + timedelta(days=3)))
    command = grant(f"resolve:{LEAD}").model_copy(update={"actor": liaison(LEAD)})
    story.rejected(command, "role_not_allowed")


# --- pause and resume -------------------------------------------------------------------------


def test_pause_then_resume_moves_due_times_by_the_paused_time() -> None:
    story = working_story()
    key = f"resolve:{LEAD}"
    due = story.s.clocks[key].due_at
    [paused] = story.later(hours=1).do(pause())
    assert isinstance(paused, ClockPaused) and key in paused.clock_keys
    assert story.s.clocks[key].paused
    [resumed] = story.later(hours=5).do(resume())
    assert isinstance(resumed, ClockResumed)
    assert story.s.clocks[key].due_at == due + timedelta(hours=5)
    assert story.s.clocks[key].paused_total == timedelta(hours=5)


def test_pause_of_a_working_time_clock_counts_working_time_only() -> None:
    story = working_story()  # the contact clock counts working time (1 working day)
    key = f"contact:{LEAD}"
    due = story.s.clocks[key].due_at
    story.do(pause(key), at=T0 + timedelta(hours=8))  # Monday 17:00
    story.do(resume(key), at=T0 + timedelta(days=1))  # Tuesday 09:00: 30 min + 30 min worked
    assert story.s.clocks[key].paused_total == timedelta(hours=1)
    assert story.s.clocks[key].due_at == due + timedelta(hours=1)


def test_pause_when_nothing_runs_and_resume_when_nothing_is_paused() -> None:
    story = working_story()
    story.rejected(resume(), "no_paused_clock")
    story.do(pause())
    story.rejected(pause(), "no_running_clock")


def test_pause_an_unknown_clock_or_a_paused_one() -> None:
    story = working_story()
    story.rejected(pause("resolve:water"), "clock_not_found")
    story.do(pause(f"resolve:{LEAD}"))
    story.rejected(pause(f"resolve:{LEAD}"), "clock_not_running")
    story.rejected(resume(f"contact:{LEAD}"), "clock_not_paused")


def test_pause_by_a_supporting_liaison_is_refused() -> None:
    working_story().rejected(pause(by=liaison("transport")), "not_your_department")


# --- manual escalation ------------------------------------------------------------------------


def test_supervisor_escalates_to_the_district() -> None:
    story = working_story()
    story.do(escalate("public_notice", "district"))
    assert story.s.escalation_tier == "district" and story.s.escalations == 1
    story.do(escalate("reminder", "community"))
    assert story.s.escalation_tier == "district"


def test_escalation_of_a_resolved_case_is_refused() -> None:
    story = working_story()
    story.do(resolve())
    story.rejected(escalate(), "case_resolved")


def test_a_secretary_cannot_escalate() -> None:
    command = escalate().model_copy(update={"actor": SECRETARY})
    working_story().rejected(command, "role_not_allowed")


def test_a_supervisor_cannot_fire_ladder_rungs() -> None:
    command = escalate().model_copy(update={"level": 1, "clock_key": f"ack:{LEAD}"})
    working_story().rejected(command, "role_not_allowed")


# --- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: ack(LEAD), lambda: progress(LEAD), lambda: pause()])
def test_any_retried_command_yields_no_new_events(make: object) -> None:
    story = working_story()
    command = make()  # type: ignore[operator]
    story.do(command)
    assert story.attempt(command, at=story.now + timedelta(hours=1)) == []


def test_decide_needs_an_aware_time() -> None:
    with pytest.raises(ValueError):
        decide(None, raise_whistle(), T0.replace(tzinfo=None))


def test_community_is_kept_as_given() -> None:
    story = routed_story()
    assert story.s.community == JINHAI and story.s.area == JINHAI
    assert SUPERVISOR.area is not None and JINHAI.startswith(SUPERVISOR.area)


def test_every_rejection_code_has_a_chinese_message() -> None:
    root = Path(__file__).resolve().parents[3] / "whistle" / "domain"
    source = "\n".join(p.read_text(encoding="utf-8") for p in root.rglob("*.py"))
    codes = set(re.findall(r'reject\(\s*(?:command,\s*)?"([a-z_]+)"', source))
    assert len(codes) > 30 and codes <= set(MESSAGES), codes - set(MESSAGES)
    rejection = routed_story().rejected(ack("water"), "not_routed_to_department")
    assert rejection.message_zh is not None
    assert rejection.message_zh.startswith("该案件未派给水务局；已派给：城市管理局（城管）、")
    assert rejection.params["departments"] == "water"
