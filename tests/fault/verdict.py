"""What the fault suite asserts once the faults are over and everything has settled."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from tests.fault.traffic import Ledger
from tests.logcheck import check_log
from whistle.domain import parse_event, pending_deadlines
from whistle.domain.deadlines import Deadline
from whistle.domain.evolve import fold
from whistle.webhooks.intake import fold as fold_departments

SYSTEM_PREFIXES = ("route:", "deadline:")


@dataclass
class Verdict:
    """The suite's figures; ``failures()`` lists every broken promise."""

    duration_s: float = 0.0
    faults: list[str] = field(default_factory=list)
    process_kills: dict[str, int] = field(default_factory=dict)
    broker_restarts: int = 0
    pg_restarts: int = 0
    unexpected_exits: list[str] = field(default_factory=list)
    cases: int = 0
    scripts: dict[str, int] = field(default_factory=dict)
    commands_sent: int = 0
    client_sends: int = 0
    client_timeouts: int = 0
    client_send_errors: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    rejections: dict[str, int] = field(default_factory=dict)
    commands_accepted: int = 0
    log_records: int = 0
    events: int = 0
    redelivered_on_log: int = 0
    deadlines_fired: int = 0
    breaches: int = 0
    escalations: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated_effects: list[str] = field(default_factory=list)
    phantom_effects: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    unfired_due: list[str] = field(default_factory=list)
    fired_twice: list[str] = field(default_factory=list)
    projection_diffs: list[str] = field(default_factory=list)
    webhook_expected: int = 0
    webhook_missing: list[str] = field(default_factory=list)
    wire_received: int = 0
    wire_duplicates: int = 0
    deliveries_by_status: dict[str, int] = field(default_factory=dict)

    def failures(self) -> list[str]:
        """Every promise broken, one line each (empty: the suite passed)."""
        checks = {
            "commands accepted but without effect (lost)": self.lost,
            "commands applied more than once": self.duplicated_effects,
            "effects of commands nobody had accepted": self.phantom_effects,
            "cases with gaps in their seqs": self.gaps,
            "two different events at one (case, seq)": self.conflicts,
            "due deadlines that never fired": self.unfired_due,
            "deadlines that fired twice": self.fired_twice,
            "read models differing from a rebuild": self.projection_diffs,
            "webhook (department, event id) never received": self.webhook_missing,
            "components that exited by themselves": self.unexpected_exits,
        }
        found = [f"{what}: {len(got)}, e.g. {got[:3]}" for what, got in checks.items() if got]
        if self.outcomes.get("unknown"):
            found.append(f"commands never decided: {self.outcomes['unknown']}")
        undelivered = {k: v for k, v in self.deliveries_by_status.items() if k != "delivered"}
        if undelivered:
            found.append(f"deliveries not delivered: {undelivered}")
        return found

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def distinct(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One event per (case, seq), in seq order per case (poison left out)."""
    unique = {(e["case_id"], e["seq"]): e for e in records if "seq" in e and "case_id" in e}
    return [unique[k] for k in sorted(unique)]


def judge_commands(verdict: Verdict, ledger: Ledger, records: list[dict[str, Any]]) -> None:
    """Every accepted command took effect exactly once; nothing else took effect."""
    report = check_log(records)
    verdict.log_records, verdict.events = len(records), report.events
    verdict.events = report.events - report.identical_redeliveries
    verdict.redelivered_on_log = report.identical_redeliveries
    verdict.cases = report.cases
    verdict.gaps, verdict.conflicts = report.gaps, report.conflicts
    verdict.duplicated_effects = list(report.repeated_commands)
    verdict.commands_sent = len(ledger.commands)
    verdict.client_sends = sum(s.sends for s in ledger.commands.values())
    verdict.client_timeouts, verdict.client_send_errors = ledger.timeouts, ledger.send_errors
    verdict.outcomes = dict(ledger.outcomes())
    verdict.scripts = dict(Counter(ledger.scripts.values()))
    verdict.rejections = dict(
        Counter(s.code or "?" for s in ledger.commands.values() if s.outcome == "rejected")
    )
    taken = {"accepted", "duplicate"}
    for command_id, sent in ledger.commands.items():
        effect = report.effects.get(command_id, 0)
        if sent.outcome in taken:
            verdict.commands_accepted += 1
            if effect == 0 or (sent.events is not None and effect != sent.events):
                verdict.lost.append(f"{command_id} {sent.type} {sent.case_id} ({effect} events)")
        elif effect:
            verdict.phantom_effects.append(f"{command_id} {sent.type} ({sent.outcome})")
    for command_id in report.effects:
        if command_id.startswith(SYSTEM_PREFIXES):
            continue
        sent_or_none = ledger.commands.get(command_id)
        if sent_or_none is None:
            verdict.phantom_effects.append(f"{command_id} (never sent)")


def judge_deadlines(verdict: Verdict, events: list[dict[str, Any]], at: datetime) -> None:
    """Every deadline due before ``at`` fired, and none fired twice."""
    breaches = Counter(
        (e["case_id"], e["clock_key"]) for e in events if e["type"] == "ClockBreached"
    )
    rungs = Counter(
        (e["case_id"], e["clock_key"], e["level"])
        for e in events
        if e["type"] == "CaseEscalated" and e.get("automatic")
    )
    verdict.breaches, verdict.escalations = sum(breaches.values()), sum(rungs.values())
    verdict.deadlines_fired = sum(1 for e in events if e["command_id"].startswith("deadline:"))
    verdict.fired_twice = [str(k) for k, n in (breaches + rungs).items() if n > 1]
    verdict.unfired_due = [f"{d.case_id} {d.key} due {d.due_at}" for d in due_deadlines(events, at)]


def due_deadlines(events: list[dict[str, Any]], at: datetime) -> list[Deadline]:
    """The deadlines still pending in the cases' final states whose time came before ``at``."""
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_case[event["case_id"]].append(event)
    due: list[Deadline] = []
    for case_events in by_case.values():
        state = fold(parse_event(e) for e in case_events)
        if state is not None:
            due += [d for d in pending_deadlines(state) if d.due_at <= at]
    return due


def expected_webhooks(events: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(department, event id) of every delivery the departments' endpoints should receive."""
    targets = fold_departments([dict(e) for e in events], {})
    return {(department, str(event["event_id"])) for department, event in targets}
