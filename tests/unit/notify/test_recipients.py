"""Who is told what: the default rules over a case's events and the users directory."""

from __future__ import annotations

from collections.abc import Iterable

from tests.stories.commands import (
    JINHAI,
    LEAD,
    SUPPORT,
    T0,
    ack,
    callback,
    dispute,
    escalate,
    grant,
    joint,
    liaison,
    raise_whistle,
    refuse,
    reopen,
    request_ext,
    resolve,
    rule,
)
from tests.stories.story import Story, routed_story, system_breach_command
from whistle.domain.base import Event
from whistle.notify.recipients import CaseMemo, Directory, Notice, Person, react

PEOPLE = Directory(
    [
        Person("l-um", "liaison", department=LEAD),
        Person("l-um2", "liaison", department=LEAD),
        *(Person(f"l-{d}", "liaison", department=d) for d in SUPPORT),
        Person("l-ca", "liaison", department="civil_affairs"),
        Person("sec-jinhai", "secretary", area=JINHAI),
        Person("sup-datong", "supervisor", area="tongan.datong"),
        Person("sup-tongan", "supervisor", area="tongan"),
        Person("sup-other", "supervisor", area="tongan.xiangping"),
        Person("boss", "admin"),
    ]
)


def play(
    events: Iterable[Event],
) -> tuple[CaseMemo | None, list[list[Notice]], list[tuple[str, ...]]]:
    memo: CaseMemo | None = None
    notices: list[list[Notice]] = []
    dropped: list[tuple[str, ...]] = []
    for event in events:
        reaction = react(memo, event, PEOPLE)
        memo = reaction.memo
        notices.append(reaction.notices)
        dropped.append(reaction.dropped_clocks)
    return memo, notices, dropped


def who(notices: list[Notice], kind: str) -> set[str]:
    return {n.recipient for n in notices if n.kind == kind}


def test_a_new_assignment_tells_the_liaisons_of_every_department_with_their_role() -> None:
    story = routed_story()
    _, notices, _ = play(story.events)
    routed = notices[1]
    assert who(routed, "assigned") == {"l-um", "l-um2", *(f"l-{d}" for d in SUPPORT)}
    roles = {n.recipient: n.facts["role"] for n in routed if n.kind == "assigned"}
    assert roles["l-um"] == "lead" and roles["l-transport"] == "supporting"
    assert all(n.deadline is not None for n in routed if n.kind == "assigned")
    assert len({n.key for n in routed}) == len(routed)  # one key per notice and recipient


def test_reminders_at_50_and_80_percent_of_each_clock_to_its_liaisons() -> None:
    story = routed_story()
    _, notices, _ = play(story.events)
    ack_um = [
        n for n in notices[1] if n.kind == "deadline_approaching" and n.clock_key == f"ack:{LEAD}"
    ]
    assert {(n.recipient, n.facts["percent"]) for n in ack_um} == {
        (u, p) for u in ("l-um", "l-um2") for p in ("50", "80")
    }
    clock = next(c for c in story.s.clocks.values() if c.key == f"ack:{LEAD}")
    fifty = next(n for n in ack_um if n.facts["percent"] == "50")
    assert fifty.not_before is not None and T0 < fifty.not_before < clock.due_at


def test_percents_are_configurable() -> None:
    story = routed_story()
    memo = react(None, story.events[0], PEOPLE).memo
    routed = react(memo, story.events[1], PEOPLE, percents=(25,)).notices
    assert {n.facts["percent"] for n in routed if n.kind == "deadline_approaching"} == {"25"}


def test_an_acknowledgement_drops_that_clocks_reminders_only() -> None:
    story = routed_story()
    story.do(ack(LEAD))
    _, _, dropped = play(story.events)
    assert dropped[-1] == (f"ack:{LEAD}",)


def test_resolving_drops_every_clocks_reminders() -> None:
    story = routed_story()
    for dept in story.s.assignments:
        story.do(ack(dept))
    story.do(resolve())
    memo, _, dropped = play(story.events)
    assert dropped[-1] and memo is not None and not memo.clocks


def test_a_breach_tells_the_liaisons_and_the_supervisors_of_the_first_tier() -> None:
    story = routed_story()
    key = f"ack:{LEAD}"
    due = next(c.due_at for c in story.s.clocks.values() if c.key == key)
    story.do(system_breach_command(story.s, key, due))
    _, notices, dropped = play(story.events)
    breach = [n for e, ns in zip(story.events, notices, strict=True) for n in ns
              if e.type == "ClockBreached"]  # fmt: skip
    assert who(breach, "deadline_breached") == {"l-um", "l-um2", "sec-jinhai"}
    assert key in [k for ks in dropped for k in ks]


def test_each_escalation_step_goes_to_the_supervisors_of_its_tier_for_the_area() -> None:
    story = routed_story()
    story.do(escalate("reminder", "community"))
    story.do(escalate("supervision", "street"))
    story.do(escalate("public_notice", "district"))
    _, notices, _ = play(story.events)
    steps = [who(ns, "escalated") for ns in notices[-3:]]
    assert steps == [{"sec-jinhai"}, {"sup-datong"}, {"sup-tongan"}]  # never sup-other
    facts = [n.facts for n in notices[-2]]
    assert facts == [{"step": "supervision", "tier": "street"}]


def test_a_dispute_goes_to_the_ruling_supervisors_and_the_ruling_to_both_departments() -> None:
    story = routed_story()
    story.do(dispute(LEAD))
    story.do(rule(LEAD, "civil_affairs"))
    memo, notices, _ = play(story.events)
    assert who(notices[2], "dispute_raised") == {"sup-datong"}
    assert who(notices[3], "dispute_ruled") == {"l-um", "l-um2", "l-ca"}
    assert memo is not None and memo.lead == "civil_affairs"


def test_a_joint_action_calls_every_department_with_time_place_and_report_in_link() -> None:
    story = routed_story()
    for dept in story.s.assignments:
        story.do(ack(dept))
    at = T0.replace(hour=15)
    story.do(joint((LEAD, "transport"), at))
    _, notices, _ = play(story.events)
    called = notices[-1]
    assert who(called, "joint_action_scheduled") == {"l-um", "l-um2", "l-transport"}
    first = called[0]
    assert first.facts["time"] == at and first.facts["place"]
    assert str(first.facts["report_in"]).startswith(f"/cases/{story.s.case_id}#report-in-")


def test_the_same_joint_action_again_is_moved() -> None:
    story = routed_story()
    for dept in story.s.assignments:
        story.do(ack(dept))
    story.do(joint((LEAD,), T0.replace(hour=15)))
    memo, _, _ = play(story.events)
    again = react(memo, story.events[-1], PEOPLE).notices
    assert who(again, "joint_action_moved") == {"l-um", "l-um2"}


def test_an_unsatisfied_callback_and_a_reopen_tell_the_lead_and_its_supervisor() -> None:
    story = routed_story()
    for dept in story.s.assignments:
        story.do(ack(dept))
    story.do(resolve())
    story.do(callback(solved=False, satisfied=False))
    n_callback = len(story.events)
    story.do(reopen())
    _, notices, _ = play(story.events)
    assert who(notices[n_callback - 1], "reopened") == {"l-um", "l-um2", "sup-datong"}
    assert who(notices[-1], "reopened") == {"l-um", "l-um2", "sup-datong"}


def test_a_satisfied_callback_tells_nobody() -> None:
    story = routed_story()
    for dept in story.s.assignments:
        story.do(ack(dept))
    story.do(resolve())
    story.do(callback())
    _, notices, _ = play(story.events)
    assert notices[-1] == []


def test_an_extension_request_goes_to_the_approver_and_the_decision_to_the_requester() -> None:
    story = routed_story()
    story.do(ack(LEAD))
    due = next(c.due_at for c in story.s.clocks.values() if c.key == f"resolve:{LEAD}")
    story.do(request_ext(LEAD, due.replace(year=due.year + 1)))
    story.do(grant(f"resolve:{LEAD}"))
    _, notices, _ = play(story.events)
    asker = liaison(LEAD).user_id
    assert who(notices[-2], "extension_requested") == {"sup-datong"}
    decided = [n for n in notices[-1] if n.kind == "extension_decided"]
    assert decided == [] or {n.recipient for n in decided} == {asker}
    people = Directory([*PEOPLE.people.values(), Person(asker, "liaison", department=LEAD)])
    memo2: CaseMemo | None = None
    for event in story.events:
        reaction = react(memo2, event, people)
        memo2 = reaction.memo
    assert {n.recipient for n in reaction.notices if n.kind == "extension_decided"} == {asker}
    assert {n.facts["decision"] for n in reaction.notices if n.kind == "extension_decided"} == {
        "granted"
    }
    assert any(n.kind == "deadline_approaching" for n in reaction.notices)  # new due, new ones


def test_a_refused_extension_tells_the_requester_refused() -> None:
    story = routed_story()
    story.do(ack(LEAD))
    due = next(c.due_at for c in story.s.clocks.values() if c.key == f"resolve:{LEAD}")
    story.do(request_ext(LEAD, due.replace(year=due.year + 1)))
    story.do(refuse(f"resolve:{LEAD}"))
    asker = liaison(LEAD).user_id
    people = Directory([*PEOPLE.people.values(), Person(asker, "liaison", department=LEAD)])
    memo: CaseMemo | None = None
    for event in story.events:
        reaction = react(memo, event, people)
        memo = reaction.memo
    assert [(n.recipient, n.facts["decision"]) for n in reaction.notices] == [(asker, "refused")]


def test_the_memo_survives_json() -> None:
    story = routed_story()
    memo, _, _ = play(story.events)
    assert memo is not None
    assert CaseMemo.from_json(memo.to_json()) == memo


def test_the_title_is_scrubbed_of_the_requester() -> None:
    story = Story()
    story.do(raise_whistle(title="张三 13912345678 反映噪音"))
    memo, _, _ = play(story.events)
    assert memo is not None and "13912345678" not in memo.title


def test_old_events_are_remembered_but_tell_nobody_except_running_reminders() -> None:
    from datetime import timedelta

    from whistle.notify.intake import Context, fold
    from whistle.webhooks.secretbox import SecretBox

    story = routed_story()
    ctx = Context(box=SecretBox("k"), case_url="/cases/{case_id}", directory=PEOPLE)
    memos: dict[str, tuple[CaseMemo, int]] = {}
    late = fold(story.events, memos, ctx, now=T0 + timedelta(days=2))
    assert memos[story.s.case_id][1] == 2  # remembered
    kinds = {r.kind for r in late.rows}
    assert "assigned" not in kinds  # two days late: nobody is told of the assignment
    assert kinds <= {"deadline_approaching"}  # only reminders of clocks still running
    fresh = fold(story.events, {}, ctx, now=T0)
    assert {"assigned", "deadline_approaching"} <= {r.kind for r in fresh.rows}
    replay = fold(story.events, memos, ctx, now=T0)
    assert replay.rows == []  # applied events are skipped
