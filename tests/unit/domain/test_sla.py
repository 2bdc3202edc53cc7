"""SLA policies as data and clock reports: elapsed, remaining, paused, breached."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.stories import LEAD, T0, pause, resume, working_story
from whistle.domain import clock_report, default_calendar, load_policies
from whistle.domain.sla import SlaPolicy, budget_of, plan_clocks


def test_default_policies_follow_the_12345_numbers() -> None:
    standard = load_policies()["standard"]
    resolve = {u: standard.clocks[u]["resolve"].within for u in standard.clocks}
    assert resolve == {
        "emergency": timedelta(hours=2),
        "utilities": timedelta(hours=24),
        "general": timedelta(days=7),
        "complex": timedelta(days=15),
    }
    assert standard.clocks["emergency"]["ack"].within == timedelta(minutes=30)
    whistle = load_policies()["whistle"]
    assert {whistle.clocks[u]["ack"].within for u in whistle.clocks} == {timedelta(minutes=30)}


def test_working_days_become_working_time() -> None:
    spec = load_policies()["working_days"].clocks["complex"]["resolve"]
    assert spec.mode == "working"
    assert budget_of(spec, default_calendar()) == 13 * timedelta(hours=6, minutes=30)


def test_ladder_flattens_repeats_in_time_order() -> None:
    ladder = load_policies()["whistle"].ladder()
    assert [(r.step, r.after) for r in ladder] == [
        ("reminder", timedelta(0)),
        ("reminder", timedelta(hours=2)),
        ("reminder", timedelta(hours=4)),
        ("supervision", timedelta(hours=12)),
        ("public_notice", timedelta(days=2)),
    ]
    assert [r.tier for r in ladder][-1] == "district"


def test_every_number_is_configuration(tmp_path: Path) -> None:
    path = tmp_path / "policies.toml"
    path.write_text(
        """
[policies.fast]
[policies.fast.clocks.general]
ack = { within = "PT5M" }
resolve = { within = "PT1H" }
[[policies.fast.escalation]]
step = "supervision"
tier = "street"
after = "PT10M"
repeat_every = "PT10M"
repeats = 3
""",
        encoding="utf-8",
    )
    policy = load_policies(path)["fast"]
    assert isinstance(policy, SlaPolicy) and len(policy.ladder()) == 4
    plans = plan_clocks(policy, "general", "water", ("fire",), T0)
    assert [(p.key, p.due_at - T0) for p in plans] == [
        ("ack:water", timedelta(minutes=5)),
        ("ack:fire", timedelta(minutes=5)),
        ("resolve:water", timedelta(hours=1)),
    ]
    assert plan_clocks(policy, "emergency", "water", (), T0) == ()


def test_clock_report_while_running_paused_and_after_due() -> None:
    story = working_story()
    key = f"resolve:{LEAD}"
    clock = story.s.clocks[key]
    report = clock_report(clock, T0 + timedelta(days=1))
    assert report.elapsed == timedelta(days=1) and report.remaining == timedelta(days=6)
    assert not report.paused and not report.breached and not report.met

    story.do(pause(key), at=T0 + timedelta(days=1))
    story.do(resume(key), at=T0 + timedelta(days=2))
    clock = story.s.clocks[key]
    report = clock_report(clock, T0 + timedelta(days=3))
    assert report.elapsed == timedelta(days=2)
    assert report.remaining == timedelta(days=5)

    overdue = clock_report(clock, clock.due_at + timedelta(hours=3))
    assert overdue.breached and overdue.remaining == -timedelta(hours=3)


def test_clock_report_of_a_paused_clock_stops_counting() -> None:
    story = working_story()
    key = f"resolve:{LEAD}"
    story.do(pause(key), at=T0 + timedelta(hours=5))
    report = clock_report(story.s.clocks[key], T0 + timedelta(days=30))
    assert report.paused and report.elapsed == timedelta(hours=5) and not report.breached


def test_clock_report_of_a_met_clock() -> None:
    story = working_story()
    report = clock_report(story.s.clocks[f"ack:{LEAD}"], T0 + timedelta(days=3))
    assert report.met and not report.breached and report.elapsed == timedelta(0)
