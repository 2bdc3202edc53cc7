"""Which kinds each person receives: the defaults, a department's setting for its liaisons, a
user's own over it, the kinds supervisors cannot mute, emergencies; the filter after react."""

from __future__ import annotations

from tests.stories.commands import LEAD, SUPPORT, escalate
from tests.stories.story import routed_story
from tests.unit.notify.test_recipients import PEOPLE, play, who
from whistle.notify.intake import Context, fold
from whistle.notify.message import KINDS
from whistle.notify.recipients import Notice, Person
from whistle.notify.subscriptions import (
    Subscriptions,
    fixed_off,
    mutable,
    unknown_kinds,
    wanted,
)
from whistle.webhooks.secretbox import SecretBox

LIAISON = Person("l-um", "liaison", department=LEAD)
SUPERVISOR = Person("sup-datong", "supervisor", area="tongan.datong")


def test_without_settings_everyone_receives_every_kind_by_default() -> None:
    subs = Subscriptions()
    for person in (LIAISON, SUPERVISOR, Person("sec", "secretary", area="tongan")):
        for kind in KINDS:
            on, source = subs.setting(person, kind)
            assert on
            assert source == ("default" if mutable(person.role, kind) else "fixed")


def test_a_department_setting_applies_to_its_liaisons_and_a_users_own_overrides_it() -> None:
    subs = Subscriptions(
        users={"l-um2": {"deadline_approaching": True}, "l-um": {"assigned": False}},
        departments={LEAD: {"deadline_approaching": False}},
    )
    other = Person("l-um2", "liaison", department=LEAD)
    elsewhere = Person("l-transport", "liaison", department="transport")
    assert subs.setting(LIAISON, "deadline_approaching") == (False, "department")
    assert subs.setting(other, "deadline_approaching") == (True, "user")
    assert subs.setting(LIAISON, "assigned") == (False, "user")
    assert subs.setting(elsewhere, "deadline_approaching") == (True, "default")
    # a department's setting is for its liaisons: a supervisor has none
    assert subs.inherited(SUPERVISOR, "reopened") == (True, "default")


def test_supervisors_cannot_mute_breaches_or_escalations_even_when_stored() -> None:
    subs = Subscriptions(
        users={"sup-datong": {"escalated": False, "deadline_breached": False, "reopened": False}}
    )
    assert subs.setting(SUPERVISOR, "escalated") == (True, "fixed")
    assert subs.setting(SUPERVISOR, "deadline_breached") == (True, "fixed")
    assert subs.setting(SUPERVISOR, "reopened") == (False, "user")
    assert fixed_off("supervisor", {"escalated": False, "reopened": False}) == ["escalated"]
    assert fixed_off("liaison", {"deadline_breached": False}) == []


def test_the_filter_after_react_drops_only_the_muted_kind_of_the_muted_people() -> None:
    story = routed_story()
    _, notices, _ = play(story.events)
    routed = notices[1]
    subs = Subscriptions(users={"l-um": {"deadline_approaching": False}})
    kept = wanted(routed, PEOPLE, subs, "general")
    assert "l-um" not in who(kept, "deadline_approaching")
    assert who(kept, "deadline_approaching") == who(routed, "deadline_approaching") - {"l-um"}
    assert who(kept, "assigned") == who(routed, "assigned")  # other kinds still go
    assert len(routed) - len(kept) == len(
        [n for n in routed if n.recipient == "l-um" and n.kind == "deadline_approaching"]
    )


def test_a_department_muting_assignments_silences_all_its_liaisons_but_no_other() -> None:
    story = routed_story()
    _, notices, _ = play(story.events)
    subs = Subscriptions(departments={LEAD: {"assigned": False}})
    kept = wanted(notices[1], PEOPLE, subs, "general")
    assert who(kept, "assigned") == {f"l-{d}" for d in SUPPORT}


def test_an_emergency_reaches_everyone_the_rules_name_muted_or_not() -> None:
    story = routed_story()
    _, notices, _ = play(story.events)
    subs = Subscriptions(departments={LEAD: {"assigned": False}})
    assert wanted(notices[1], PEOPLE, subs, "emergency") == notices[1]


def test_an_escalation_reaches_the_tiers_supervisor_whatever_they_stored() -> None:
    story = routed_story()
    story.do(escalate("supervision", "street"))
    _, notices, _ = play(story.events)
    subs = Subscriptions(users={"sup-datong": {"escalated": False}})
    assert who(wanted(notices[-1], PEOPLE, subs, "general"), "escalated") == {"sup-datong"}


def test_unknown_kinds_are_named_in_order() -> None:
    assert unknown_kinds(["assigned", "gossip", "escalated", "spam"]) == ["gossip", "spam"]


def test_the_intake_queues_no_delivery_of_a_muted_kind() -> None:
    story = routed_story()
    ctx = Context(box=SecretBox("k"), case_url="/cases/{case_id}", directory=PEOPLE)
    ctx.subscriptions = Subscriptions(users={"l-um": {"assigned": False}})
    batch = fold(story.events, {}, ctx, story.events[-1].occurred_at)
    assigned = {(r.user_id, r.channel) for r in batch.rows if r.kind == "assigned"}
    assert ("l-um", "inapp") not in assigned
    assert ("l-um2", "inapp") in assigned
    assert any(r.user_id == "l-um" for r in batch.rows)  # its other kinds still queued


def test_a_notice_to_someone_unknown_is_left_for_the_intake_to_drop() -> None:
    ghost = Notice("assigned", "ghost", "ev:ghost")
    subs = Subscriptions(users={"ghost": {"assigned": False}})
    assert wanted([ghost], PEOPLE, subs, "general") == [ghost]
