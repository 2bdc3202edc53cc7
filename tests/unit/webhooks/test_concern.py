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
