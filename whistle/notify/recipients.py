"""Who is told what: the notices one case event asks for, from the case's memo and the users.

Pure (no I/O, no clock reads). The notifier folds each case's events into a :class:`CaseMemo`
(what it must remember of the case to address later notices: its area, urgency, departments,
clocks, the first escalation tier, joint actions seen, who asked for which extension) and
:func:`react` returns, for one event, the :class:`Notice` s to send and the clocks whose
pending reminders are dropped. The default rules, per role (issue #18, item 1):

- ``CaseRouted`` (a new assignment): the liaisons of the lead and each supporting department;
- a clock planned (routing, ruling, reopen, extension, resume): its department's liaisons at
  50 % and 80 % of its span (``deadline_approaching``, held until then);
- ``ClockBreached``: the clock's liaisons and the supervisors of the ladder's first tier;
- ``CaseEscalated`` (催办 / 督办 / 通报): the supervisors of that tier (community / street /
  district) covering the case's area;
- ``AssignmentDisputed`` (退单): the supervisors who rule, the nearest covering the area;
- ``DisputeRuled``: the liaisons of the disputing department and of the new one;
- ``JointActionScheduled`` (集结; the same action again: moved): every department's liaisons;
- ``CallbackRecorded`` unsatisfied, ``CaseReopened``: the lead's liaisons and the nearest
  supervisors;
- ``ExtensionRequested``: the nearest supervisors (who approve); ``ExtensionGranted`` /
  ``ExtensionRefused``: the user who asked.

A supervisor's tier is the depth of the area code (``district.street.community``): a supervisor
"of the street tier for the case" is one whose area is the case area's street-level ancestor.
Supervisors are of streets and districts (``api.users`` refuses a community); at the community
tier, the community's secretaries (社区书记) are told.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from whistle.domain.areas import case_area, lineage
from whistle.domain.base import Event
from whistle.domain.events import (
    AssignmentDisputed,
    CallbackRecorded,
    CaseClosed,
    CaseEscalated,
    CaseMarkedDuplicate,
    CaseReopened,
    CaseResolved,
    CaseRouted,
    CaseWithdrawn,
    ClockBreached,
    ClockPaused,
    ClockResumed,
    DepartmentAcknowledged,
    DepartmentCompleted,
    DepartmentReportedIn,
    DisputeRuled,
    ExtensionGranted,
    ExtensionRefused,
    ExtensionRequested,
    JointActionScheduled,
    RequesterContacted,
    WhistleRaised,
)
from whistle.domain.values import ClockPlan, clock_key
from whistle.notify.message import CaseFacts, MessageKind, case_link

TIER_DEPTH = {"district": 0, "street": 1, "community": 2}
DEFAULT_PERCENTS: tuple[int, ...] = (50, 80)
ENDED = (CaseClosed, CaseWithdrawn, CaseMarkedDuplicate)


@dataclass(frozen=True)
class Person:
    """A user as the rules see one (``api.users``): id, role, area, department."""

    user_id: str
    role: str
    area: str | None = None
    department: str | None = None


class Directory:
    """The active users, indexed for the rules."""

    def __init__(self, people: Iterable[Person]) -> None:
        self.people = {p.user_id: p for p in people}
        self._liaisons: dict[str, list[str]] = {}
        self._supervisors: dict[str, list[str]] = {}
        self._secretaries: dict[str, list[str]] = {}
        for p in sorted(self.people.values(), key=lambda p: p.user_id):
            if p.role == "liaison" and p.department:
                self._liaisons.setdefault(p.department, []).append(p.user_id)
            elif p.role == "supervisor" and p.area:
                self._supervisors.setdefault(p.area, []).append(p.user_id)
            elif p.role == "secretary" and p.area:
                self._secretaries.setdefault(p.area, []).append(p.user_id)

    def liaisons(self, department: str | None) -> list[str]:
        """The liaisons of ``department``."""
        return list(self._liaisons.get(department or "", ()))

    def supervisors_of_tier(self, area: str, tier: str) -> list[str]:
        """The supervisors of ``tier`` covering ``area``: whose area is its ancestor at the
        tier's depth (none when the area is not that deep). Supervisors are of a street or a
        district; the community tier is the community's secretaries (社区书记)."""
        depth = TIER_DEPTH.get(tier)
        parts = area.split(".")
        if depth is None or len(parts) <= depth:
            return []
        code = ".".join(parts[: depth + 1])
        found = self._secretaries if tier == "community" else self._supervisors
        return list(found.get(code, ()))

    def nearest_supervisors(self, area: str) -> list[str]:
        """The supervisors of the most specific area covering ``area`` that has any."""
        for code in lineage(area):
            if code in self._supervisors:
                return list(self._supervisors[code])
        return []


@dataclass(frozen=True)
class ClockMemo:
    """A running clock: whose, and its span (for the reminders' instants)."""

    kind: str
    department: str
    started_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class CaseMemo:
    """What the notifier remembers of a case to address its later notices."""

    case_id: str
    title: str = ""
    category: str = ""
    community: str = ""
    area: str = ""
    urgency: str = "general"
    lead: str | None = None
    supporting: tuple[str, ...] = ()
    first_tier: str = "community"
    clocks: Mapping[str, ClockMemo] = field(default_factory=dict)
    joint_actions: tuple[str, ...] = ()
    extension_requesters: Mapping[str, str] = field(default_factory=dict)

    @property
    def facts(self) -> CaseFacts:
        """The case's facts a message may carry."""
        return CaseFacts(self.case_id, self.title, self.category, self.community)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (``notify.cases.memo``)."""
        return {
            "case_id": self.case_id,
            "title": self.title,
            "category": self.category,
            "community": self.community,
            "area": self.area,
            "urgency": self.urgency,
            "lead": self.lead,
            "supporting": list(self.supporting),
            "first_tier": self.first_tier,
            "clocks": {
                k: [c.kind, c.department, c.started_at.isoformat(), c.due_at.isoformat()]
                for k, c in self.clocks.items()
            },
            "joint_actions": list(self.joint_actions),
            "extension_requesters": dict(self.extension_requesters),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseMemo:
        """The memo of :meth:`to_json`."""
        clocks = {
            k: ClockMemo(v[0], v[1], datetime.fromisoformat(v[2]), datetime.fromisoformat(v[3]))
            for k, v in data.get("clocks", {}).items()
        }
        return cls(
            case_id=data["case_id"],
            title=data.get("title", ""),
            category=data.get("category", ""),
            community=data.get("community", ""),
            area=data.get("area", ""),
            urgency=data.get("urgency", "general"),
            lead=data.get("lead"),
            supporting=tuple(data.get("supporting", ())),
            first_tier=data.get("first_tier", "community"),
            clocks=clocks,
            joint_actions=tuple(data.get("joint_actions", ())),
            extension_requesters=dict(data.get("extension_requesters", {})),
        )


@dataclass(frozen=True)
class Notice:
    """One notification to one user, before channels: what, to whom, when at the earliest.

    ``key`` is unique per (notification, recipient) — the event id, or a reminder's own id —
    the deliveries add the channel. ``not_before``: a reminder's instant (else: now).
    ``clock_key``: the clock a reminder belongs to (dropped when the clock is met).
    """

    kind: MessageKind
    recipient: str
    key: str
    facts: Mapping[str, str | datetime] = field(default_factory=dict)
    deadline: datetime | None = None
    not_before: datetime | None = None
    clock_key: str | None = None


@dataclass(frozen=True)
class Reaction:
    """What one event asks of the notifier."""

    memo: CaseMemo
    notices: list[Notice]
    dropped_clocks: tuple[str, ...] = ()


def _to(kind: MessageKind, people: Iterable[str], key: str, **kw: Any) -> list[Notice]:
    seen: dict[str, None] = dict.fromkeys(people)
    return [Notice(kind, user, f"{key}:{user}", **kw) for user in seen]


def _plan(memo: CaseMemo, plans: Iterable[ClockPlan]) -> CaseMemo:
    clocks = dict(memo.clocks)
    for plan in plans:
        clocks[plan.key] = ClockMemo(plan.kind, plan.department, plan.started_at, plan.due_at)
    return replace(memo, clocks=clocks)


def reminders(
    memo: CaseMemo, keys: Iterable[str], directory: Directory, percents: Iterable[int]
) -> list[Notice]:
    """The approaching-deadline notices of the clocks ``keys``: at each percent of the span
    from the clock's start to its due time, to its department's liaisons. The key names the
    due time, so a clock moved (extension, pause) gets new reminders."""
    found: list[Notice] = []
    for key in keys:
        clock = memo.clocks.get(key)
        if clock is None:
            continue
        span = clock.due_at - clock.started_at
        for pct in percents:
            at = clock.started_at + timedelta(seconds=span.total_seconds() * pct / 100)
            rid = f"remind:{memo.case_id}:{key}:{clock.due_at.isoformat()}:{pct}"
            found += _to(
                "deadline_approaching",
                directory.liaisons(clock.department),
                rid,
                facts={"clock": clock.kind, "percent": str(pct)},
                deadline=clock.due_at,
                not_before=at,
                clock_key=key,
            )
    return found


def _met(memo: CaseMemo, event: Event) -> tuple[str, ...]:
    """The clocks an event meets (or stops): their reminders are dropped."""
    if isinstance(event, DepartmentAcknowledged):
        return (clock_key("ack", event.department),)
    if isinstance(event, RequesterContacted):
        return (clock_key("contact", event.department),)
    if isinstance(event, DepartmentCompleted):
        return (clock_key("resolve", event.department),)
    if isinstance(event, DepartmentReportedIn) and event.assembled:
        return tuple(k for k, c in memo.clocks.items() if c.kind == "joint_action")
    if isinstance(event, (CaseResolved, *ENDED)):
        return tuple(memo.clocks)
    if isinstance(event, ClockBreached):
        return (event.clock_key,)
    if isinstance(event, ClockPaused):
        return tuple(event.clock_keys)
    if isinstance(event, ExtensionGranted):
        return (event.clock_key,)
    if isinstance(event, CaseReopened | DisputeRuled):
        return tuple(memo.clocks)  # planned again below from the event's clocks
    return ()


def react(
    memo: CaseMemo | None,
    event: Event,
    directory: Directory,
    percents: Iterable[int] = DEFAULT_PERCENTS,
    case_url: str = "/cases/{case_id}",
) -> Reaction:
    """The memo after ``event``, the notices it asks for and the clocks whose reminders go.

    ``case_url``: the case page (``{case_id}`` replaced); a joint action's report-in link is
    that page's ``#report-in-<action id>``."""
    if memo is None:
        memo = CaseMemo(case_id=event.case_id)
    before = memo
    pct = tuple(percents)
    dropped = _met(memo, event)
    memo = replace(memo, clocks={k: c for k, c in memo.clocks.items() if k not in dropped})
    key = event.event_id
    notices: list[Notice] = []
    if isinstance(event, WhistleRaised):
        facts = CaseFacts.from_raised(event.model_dump(mode="json"))
        area = case_area(event.community, event.compound, event.grid)
        memo = replace(
            memo, title=facts.title, category=facts.category, community=facts.community,
            area=area, urgency=event.urgency,
        )  # fmt: skip
    elif isinstance(event, CaseRouted):
        tier = event.escalation[0].tier if event.escalation else "community"
        memo = _plan(replace(memo, lead=event.lead, supporting=event.supporting,
                             first_tier=tier), event.clocks)  # fmt: skip
        ack = {c.department: c.due_at for c in event.clocks if c.kind == "ack"}
        notices += _to("assigned", directory.liaisons(event.lead), key,
                       facts={"role": "lead"}, deadline=ack.get(event.lead))  # fmt: skip
        for dept in event.supporting:
            notices += _to("assigned", directory.liaisons(dept), key,
                           facts={"role": "supporting"}, deadline=ack.get(dept))  # fmt: skip
        notices += reminders(memo, [c.key for c in event.clocks], directory, pct)
    elif isinstance(event, ClockBreached):
        people = [*directory.liaisons(event.department),
                  *directory.supervisors_of_tier(memo.area, memo.first_tier)]  # fmt: skip
        notices += _to("deadline_breached", people, key, facts={"clock": event.kind},
                       deadline=event.due_at, clock_key=event.clock_key)  # fmt: skip
    elif isinstance(event, CaseEscalated):
        people = directory.supervisors_of_tier(memo.area, event.tier)
        notices += _to("escalated", people, key, facts={"step": event.step, "tier": event.tier})
    elif isinstance(event, AssignmentDisputed):
        notices += _to("dispute_raised", directory.nearest_supervisors(memo.area), key,
                       facts={"department": event.department, "reason": event.reason})  # fmt: skip
    elif isinstance(event, DisputeRuled):
        memo = _plan(memo, event.clocks)
        if event.outcome == "reassign" and event.new_department:
            lead = event.new_department if memo.lead == event.department else memo.lead
            supporting = tuple(
                event.new_department if d == event.department else d for d in memo.supporting
            )
            memo = replace(memo, lead=lead, supporting=supporting)
        people = [*directory.liaisons(event.department),
                  *directory.liaisons(event.new_department)]  # fmt: skip
        notices += _to("dispute_ruled", people, key, facts={"outcome": event.outcome})
        notices += reminders(memo, [c.key for c in event.clocks], directory, pct)
    elif isinstance(event, JointActionScheduled):
        moved = event.action_id in memo.joint_actions
        if not moved:
            memo = replace(memo, joint_actions=(*memo.joint_actions, event.action_id))
        people = [u for d in event.departments for u in directory.liaisons(d)]
        report_in = case_link(case_url, memo.case_id) + f"#report-in-{event.action_id}"
        notices += _to(
            "joint_action_moved" if moved else "joint_action_scheduled", people, key,
            facts={"time": event.at, "place": event.place, "report_in": report_in},
            deadline=event.at,
        )  # fmt: skip
    elif (isinstance(event, CallbackRecorded) and not event.satisfied) or isinstance(
        event, CaseReopened
    ):
        if isinstance(event, CaseReopened):
            memo = _plan(memo, event.clocks)
        people = [*directory.liaisons(memo.lead), *directory.nearest_supervisors(memo.area)]
        notices += _to("reopened", people, key)
        if isinstance(event, CaseReopened):
            notices += reminders(memo, [c.key for c in event.clocks], directory, pct)
    elif isinstance(event, ExtensionRequested):
        memo = replace(
            memo,
            extension_requesters={
                **memo.extension_requesters,
                event.clock_key: event.actor.user_id,
            },
        )
        notices += _to(
            "extension_requested", directory.nearest_supervisors(memo.area), key,
            facts={"department": event.department, "clock": event.clock,
                   "until": event.requested_due_at},
            deadline=event.current_due_at,
        )  # fmt: skip
    elif isinstance(event, ExtensionGranted | ExtensionRefused):
        asker = memo.extension_requesters.get(event.clock_key)
        kind = event.clock_key.partition(":")[0]
        decision = "granted" if isinstance(event, ExtensionGranted) else "refused"
        deadline = event.due_at if isinstance(event, ExtensionGranted) else None
        if isinstance(event, ExtensionGranted):
            old = dict(memo.clocks)
            previous = before.clocks.get(event.clock_key)
            dept = event.clock_key.partition(":")[2]
            start = previous.started_at if previous else event.previous_due_at
            old[event.clock_key] = ClockMemo(kind, dept, start, event.due_at)
            memo = replace(memo, clocks=old)
            notices += reminders(memo, [event.clock_key], directory, pct)
        if asker and asker in directory.people:
            told = {"decision": decision, "clock": kind}
            notices += _to("extension_decided", [asker], key, facts=told, deadline=deadline)
    elif isinstance(event, ClockResumed):
        clocks = dict(memo.clocks)
        for ck, due in event.due_at.items():
            kind, _, dept = ck.partition(":")
            clocks[ck] = ClockMemo(kind, dept, event.occurred_at, due)
        memo = replace(memo, clocks=clocks)
        notices += reminders(memo, list(event.due_at), directory, pct)
    return Reaction(memo, notices, dropped)
