"""The story of one whistle in 金海社区, from raise to callback, played through decide/evolve."""

from __future__ import annotations

from datetime import timedelta

from tests.stories import (
    LEAD,
    T0,
    Story,
    ack,
    callback,
    close,
    complete,
    contact,
    dispute,
    joint,
    progress,
    publish,
    raise_whistle,
    reopen,
    report_in,
    resolve,
    rule,
    system_breach_command,
)
from whistle.domain import (
    CaseEscalated,
    ClockBreached,
    DepartmentAcknowledged,
    fold,
    pending_deadlines,
)


def test_a_whistle_in_jinhai_from_raise_to_callback() -> None:
    story = Story()

    # Monday 09:00. The promenade is overrun by weekend tourists; the secretary blows the whistle.
    story.do(raise_whistle())
    assert story.s.status == "raised"
    assert story.s.street == "tongan.datong" and story.s.district == "tongan"

    # The router sends it to 城管 (lead) with 公安, 交通 and 文旅, under the 30-minute policy.
    routing = story.routing()
    assert routing.rule_id == "tongan.datong.jinhai.tourist_crowds"
    assert routing.policy == "whistle"
    story.do(routing)
    assert story.s.lead == LEAD
    assert set(story.s.assignments) == {LEAD, "public_security", "transport", "culture_tourism"}
    assert story.s.clocks["ack:transport"].due_at == T0 + timedelta(minutes=30)

    # 城管 and 公安 report in (报到) within minutes; 文旅 says it is not theirs (退单).
    story.later(minutes=10).do(ack(LEAD))
    assert story.s.status == "in_progress"
    story.later(minutes=5).do(dispute("culture_tourism"))
    story.later(minutes=5).do(ack("public_security"))

    # 交通 stays silent. At 09:31 the deadline tracker fires: the acknowledge clock is breached.
    story.later(minutes=11)
    breach = system_breach_command(story.s, "ack:transport", fired_at=story.now)
    [breached] = story.do(breach)
    assert isinstance(breached, ClockBreached)
    assert breached.lateness == timedelta(minutes=1)
    # The tracker may fire twice (a restart): the same command id is a no-op.
    assert story.attempt(breach) == []

    # The ladder's first rung, a reminder (催办) from the community, fires right after.
    [rung] = [d for d in pending_deadlines(story.s) if d.clock_key == "ack:transport"]
    assert rung.key == "ack:transport:escalate:1" and rung.step == "reminder"
    story.later(minutes=1)
    [reminder] = story.do(system_breach_command(story.s, rung.key, fired_at=story.now))
    assert isinstance(reminder, CaseEscalated)
    assert (reminder.step, reminder.tier, reminder.level) == ("reminder", "community", 1)

    # 交通 finally signs for it, late; its escalation timers stop.
    [late] = story.later(minutes=28).do(ack("transport"))
    assert isinstance(late, DepartmentAcknowledged) and late.within_deadline is False
    assert not [d for d in pending_deadlines(story.s) if d.clock_key == "ack:transport"]

    # The street supervisor rules on 文旅's dispute: reassign to 市场监管 (the vendors).
    story.later(minutes=20).do(rule("culture_tourism", new="market_regulation"))
    assert "culture_tourism" not in story.s.assignments
    assert story.s.supporting == ("public_security", "transport", "market_regulation")
    assert story.s.clocks["ack:market_regulation"].started_at == story.now
    story.later(minutes=10).do(ack("market_regulation"))

    # 城管 calls the requester and schedules the joint action (集结) for Saturday.
    story.later(minutes=30).do(contact(LEAD))
    saturday = T0 + timedelta(days=5)
    story.do(joint((LEAD, "public_security", "transport"), at=saturday))
    assert story.s.clocks[f"joint_action:{LEAD}"].met_at is None  # met on arrival, not now

    # Callback cannot come before resolution.
    story.rejected(callback(), "callback_before_resolution")

    # Saturday: every department reports in (报到) on the promenade; the last one assembles it.
    story.now = saturday
    story.do(report_in(LEAD))
    story.later(minutes=10).do(report_in("public_security"))
    assert story.s.clocks[f"joint_action:{LEAD}"].met_at is None
    story.later(minutes=5).do(report_in("transport"))
    assert story.s.clocks[f"joint_action:{LEAD}"].met_at == story.now
    assert story.s.joint_actions[0].reported_in["transport"] == story.now

    # 公安 reports done; 交通 has not — resolution must wait.
    story.now = saturday + timedelta(hours=3)
    story.do(progress("public_security"))
    story.do(complete("public_security"))
    story.rejected(resolve(), "joint_action_incomplete")
    story.later(hours=1).do(complete("transport"))
    story.do(resolve())
    assert story.s.status == "resolved"

    # Callback (回访): the crowds are back the next weekend — unsatisfied, the department's fault.
    story.later(days=8).do(callback(solved=False, satisfied=False, fault="department"))
    story.do(reopen())
    assert story.s.status == "in_progress" and story.s.reopen_count == 1
    assert story.s.clocks[f"resolve:{LEAD}"].started_at == story.now
    assert story.s.assignments["transport"].completed_at is None

    # A second joint action with a permanent temporary-parking zone; resolved, published, evaluated.
    story.later(days=2).do(joint((LEAD, "transport"), at=story.now + timedelta(days=1)))
    story.later(days=1).do(complete("transport"))
    story.do(resolve())
    story.do(publish())
    story.later(days=3).do(callback(solved=True, satisfied=True, score=5))
    story.do(close())

    final = story.s
    assert final.status == "closed"
    assert final.escalations == 1 and final.escalation_tier == "community"
    assert final.callbacks == 2 and final.last_callback is not None
    assert pending_deadlines(final) == []
    # The log is gap-free and rebuilds the same state.
    assert [e.seq for e in story.events] == list(range(1, len(story.events) + 1))
    assert fold(story.events) == final
