"""Which departments hear of which event."""

from __future__ import annotations

from whistle.webhooks.concern import concerned, departments_after


def test_routing_sets_lead_then_supporting_departments() -> None:
    event = {"type": "CaseRouted", "lead": "urban", "supporting": ["police", "urban"]}
    assert departments_after([], event) == ["urban", "police"]


def test_a_reassignment_replaces_the_disputing_department() -> None:
    event = {
        "type": "DisputeRuled",
        "outcome": "reassign",
        "department": "urban",
        "new_department": "housing",
    }
    after = departments_after(["urban", "police"], event)
    assert after == ["housing", "police"]
    assert concerned(["urban", "police"], after, event) == ["housing", "police", "urban"]


def test_an_upheld_dispute_changes_nothing() -> None:
    event = {"type": "DisputeRuled", "outcome": "uphold", "department": "urban"}
    assert departments_after(["urban"], event) == ["urban"]


def test_a_raised_whistle_concerns_nobody_yet() -> None:
    assert concerned([], departments_after([], {"type": "WhistleRaised"}), {}) == []


def test_a_joint_action_concerns_every_department_called() -> None:
    event = {"type": "JointActionScheduled", "departments": ["urban", "transport"]}
    assert concerned(["urban"], ["urban"], event) == ["urban", "transport"]


def test_folding_a_batch_skips_what_was_applied_and_names_each_department() -> None:
    from whistle.webhooks.intake import fold

    routed = {"type": "CaseRouted", "case_id": "c", "seq": 2, "lead": "urban", "supporting": []}
    breach = {"type": "ClockBreached", "case_id": "c", "seq": 3, "department": "urban"}
    state: dict[str, tuple[list[str], int]] = {}
    targets = fold([routed, breach], state)
    assert [(d, e["seq"]) for d, e in targets] == [("urban", 2), ("urban", 3)]
    assert state == {"c": (["urban"], 3)}
    assert fold([routed, breach], state) == []  # a replay
