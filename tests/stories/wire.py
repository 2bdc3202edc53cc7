"""Case histories in the domain's wire format (event dicts), written directly at chosen times.

For the projection tests and the read-side benchmarks, which need many varied histories
(``random_story``) or events at exact instants without playing the commands through the
domain (``tests.stories.domain`` does that).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

Event = dict[str, Any]


def iso(at: datetime) -> str:
    """The wire form of an aware instant."""
    return at.isoformat().replace("+00:00", "Z")


def duration(delta: timedelta) -> str:
    """ISO 8601 duration of a timedelta (seconds precision), as pydantic writes it."""
    return f"PT{int(delta.total_seconds())}S"


@dataclass
class CaseStory:
    """Builds the events of one case, seq by seq, with plausible actors."""

    case_id: str
    community: str
    events: list[Event] = field(default_factory=list)
    lead: str | None = None

    def _add(self, type_: str, at: datetime, actor: dict[str, Any], **body: Any) -> Event:
        seq = len(self.events) + 1
        command_id = f"cmd-{self.case_id}-{seq}"
        event = {
            "type": type_,
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{command_id}:{seq}")),
            "case_id": self.case_id,
            "seq": seq,
            "occurred_at": iso(at),
            "actor": actor,
            "command_id": command_id,
            "schema_version": 1,
            **body,
        }
        self.events.append(event)
        return event

    def secretary(self) -> dict[str, Any]:
        """The community secretary."""
        return {
            "user_id": f"sec-{self.community}",
            "role": "secretary",
            "department": None,
            "area": self.community,
        }

    @staticmethod
    def liaison(department: str) -> dict[str, Any]:
        """A department liaison."""
        return {
            "user_id": f"liaison-{department}",
            "role": "liaison",
            "department": department,
            "area": None,
        }

    @staticmethod
    def system() -> dict[str, Any]:
        """The system actor (router, deadlines)."""
        return {"user_id": "system", "role": "system", "department": None, "area": None}

    def supervisor(self) -> dict[str, Any]:
        """A street supervisor."""
        street = ".".join(self.community.split(".")[:2])
        return {
            "user_id": f"sup-{street}",
            "role": "supervisor",
            "department": None,
            "area": street,
        }

    def raised(self, at: datetime, category: str = "parking", urgency: str = "general") -> Event:
        """吹哨."""
        event = self._add(
            "WhistleRaised",
            at,
            self.secretary(),
            community=self.community,
            compound=None,
            grid=None,
            category=category,
            title=f"{category} at {self.community}",
            description="",
            urgency=urgency,
            channel="whistle",
            address=None,
            location=None,
            requester=None,
        )
        event["schema_version"] = 2
        return event

    def routed(
        self,
        at: datetime,
        lead: str,
        supporting: tuple[str, ...] = (),
        ack: timedelta = timedelta(minutes=30),
        resolve: timedelta = timedelta(days=7),
    ) -> Event:
        """派: lead and supporting departments with ack and resolve clocks."""
        self.lead = lead
        clocks = [self.plan("ack", d, at, ack) for d in (lead, *supporting)] + [
            self.plan("resolve", lead, at, resolve)
        ]
        return self._add(
            "CaseRouted",
            at,
            self.system(),
            lead=lead,
            supporting=list(supporting),
            rule_id="r1",
            rules_version="v1",
            policy="default",
            clocks=clocks,
            escalation=[],
        )

    @staticmethod
    def plan(kind: str, department: str, at: datetime, budget: timedelta) -> dict[str, Any]:
        """A calendar-time clock plan."""
        return {
            "kind": kind,
            "department": department,
            "mode": "calendar",
            "budget": duration(budget),
            "started_at": iso(at),
            "due_at": iso(at + budget),
        }

    def acknowledged(self, at: datetime, department: str, within: bool | None = None) -> Event:
        """签收."""
        return self._add(
            "DepartmentAcknowledged",
            at,
            self.liaison(department),
            department=department,
            within_deadline=within,
        )

    def contacted(self, at: datetime, department: str) -> Event:
        """Requester contacted."""
        return self._add(
            "RequesterContacted",
            at,
            self.liaison(department),
            department=department,
            channel="phone",
            note="",
        )

    def progress(self, at: datetime, department: str, note: str = "on site") -> Event:
        """办理 progress."""
        return self._add(
            "ProgressReported",
            at,
            self.liaison(department),
            department=department,
            note=note,
            action_id=None,
        )

    def disputed(self, at: datetime, department: str) -> Event:
        """退单."""
        return self._add(
            "AssignmentDisputed",
            at,
            self.liaison(department),
            department=department,
            reason="wrong_function",
            text="not ours",
        )

    def ruled(self, at: datetime, department: str, new_department: str | None) -> Event:
        """A ruling on a dispute (reassign when ``new_department``)."""
        clocks = (
            [self.plan("ack", new_department, at, timedelta(minutes=30))] if new_department else []
        )
        if new_department and self.lead == department:
            self.lead = new_department
        return self._add(
            "DisputeRuled",
            at,
            self.supervisor(),
            department=department,
            outcome="reassign" if new_department else "uphold",
            new_department=new_department,
            reason="",
            clocks=clocks,
        )

    def joint_action(
        self, at: datetime, when: datetime, place: str, departments: list[str]
    ) -> Event:
        """集结 scheduled by the lead at ``when``, numbered as the decider numbers them."""
        number = 1 + sum(e["type"] == "JointActionScheduled" for e in self.events)
        lead = self.lead or departments[0]
        event = self._add(
            "JointActionScheduled",
            at,
            self.liaison(lead),
            action_id=f"ja-{number}",
            place=place,
            departments=departments,
            note="",
        )
        event["at"] = iso(when)  # the event's own field, not ``_add``'s time
        return event

    def reported_in(self, at: datetime, action_id: str, department: str, assembled: bool) -> Event:
        """报到 of ``department`` at a joint action."""
        return self._add(
            "DepartmentReportedIn",
            at,
            self.liaison(department),
            department=department,
            action_id=action_id,
            assembled=assembled,
        )

    def completed(self, at: datetime, department: str) -> Event:
        """A department's part done."""
        return self._add(
            "DepartmentCompleted",
            at,
            self.liaison(department),
            department=department,
            summary="done",
        )

    def resolved(self, at: datetime, outcome: str = "solved") -> Event:
        """办结 by the lead."""
        lead = self.lead or "unknown"
        return self._add(
            "CaseResolved",
            at,
            self.liaison(lead),
            department=lead,
            outcome=outcome,
            summary="fixed",
        )

    def published(self, at: datetime, summary: str) -> Event:
        """晒事: the resolved case published to the community."""
        return self._add("CasePublished", at, self.supervisor(), summary=summary)

    def callback(
        self, at: datetime, solved: bool, satisfied: bool, score: int | None = None
    ) -> Event:
        """回访; the score is 5 when satisfied, 2 when not, unless given."""
        return self._add(
            "CallbackRecorded",
            at,
            self.secretary(),
            solved=solved,
            satisfied=satisfied,
            score=score if score is not None else 5 if satisfied else 2,
            comment="",
            fault="none" if satisfied else "department",
        )

    def reopened(self, at: datetime, count: int, resolve: timedelta = timedelta(days=7)) -> Event:
        """Reopened with a restarted resolve clock."""
        lead = self.lead or "unknown"
        return self._add(
            "CaseReopened",
            at,
            self.secretary(),
            reason="not fixed",
            reopen_count=count,
            clocks=[self.plan("resolve", lead, at, resolve)],
        )

    def closed(self, at: datetime) -> Event:
        """Closed."""
        return self._add("CaseClosed", at, self.secretary(), note="")

    def breached(self, at: datetime, kind: str, department: str, due: datetime) -> Event:
        """A clock breach fired by the deadlines worker."""
        return self._add(
            "ClockBreached",
            at,
            self.system(),
            clock_key=f"{kind}:{department}",
            kind=kind,
            department=department,
            due_at=iso(due),
            lateness=duration(at - due),
        )

    def escalated(self, at: datetime, step: str = "reminder", tier: str = "street") -> Event:
        """催办 etc."""
        return self._add(
            "CaseEscalated",
            at,
            self.supervisor(),
            step=step,
            tier=tier,
            reason="late",
            clock_key=None,
            department=None,
            level=None,
            automatic=False,
            lateness=None,
        )

    def extension_requested(
        self, at: datetime, department: str, due: datetime, wanted: datetime
    ) -> Event:
        """延期 asked on the resolve clock."""
        return self._add(
            "ExtensionRequested",
            at,
            self.liaison(department),
            clock_key=f"resolve:{department}",
            department=department,
            clock="resolve",
            current_due_at=iso(due),
            requested_due_at=iso(wanted),
            reason="materials",
        )

    def extension_granted(
        self, at: datetime, department: str, previous: datetime, due: datetime
    ) -> Event:
        """延期 granted."""
        return self._add(
            "ExtensionGranted",
            at,
            self.supervisor(),
            clock_key=f"resolve:{department}",
            previous_due_at=iso(previous),
            due_at=iso(due),
            note="",
        )

    def paused(self, at: datetime, keys: list[str]) -> Event:
        """Clocks paused waiting for the requester."""
        return self._add(
            "ClockPaused",
            at,
            self.liaison(self.lead or "unknown"),
            clock_keys=keys,
            reason="waiting for the resident",
        )

    def resumed(
        self, at: datetime, keys: list[str], paused: timedelta, dues: dict[str, datetime]
    ) -> Event:
        """Clocks resumed with new due times."""
        return self._add(
            "ClockResumed",
            at,
            self.liaison(self.lead or "unknown"),
            clock_keys=keys,
            due_at={k: iso(v) for k, v in dues.items()},
            paused_for={k: duration(paused) for k in keys},
            note="",
        )

    def withdrawn(self, at: datetime) -> Event:
        """Withdrawn by the community."""
        return self._add("CaseWithdrawn", at, self.secretary(), reason="solved by itself")


COMMUNITIES = (
    "tongan.datong.jinhai",
    "tongan.datong.fengxiang",
    "tongan.xiangping.yunxi",
    "haicang.xinyang.xichi",
    "xiangan.maxiang.fengshan",
)
DEPARTMENTS = ("urban_management", "transport", "public_security", "housing", "greening")
CATEGORIES = ("parking", "noise", "vendors", "sanitation", "greening", "property")


def random_story(rng: Any, case_id: str, t0: datetime) -> CaseStory:
    """A plausible, varied case history (disputes, breaches, extensions, pauses, reopenings)."""
    s = CaseStory(case_id, rng.choice(COMMUNITIES))
    t = t0
    step = lambda lo, hi: timedelta(minutes=rng.randint(lo, hi))  # noqa: E731
    s.raised(t, rng.choice(CATEGORIES))
    if rng.random() < 0.03:
        s.withdrawn(t + step(5, 60))
        return s
    t += step(1, 5)
    lead, *others = rng.sample(DEPARTMENTS, 3)
    supporting = tuple(others[: rng.randint(0, 2)])
    routed_at = t
    s.routed(t, lead, supporting)
    resolve_due = routed_at + timedelta(days=7)
    for d in (lead, *supporting):
        t2 = t + step(1, 45)
        if d in supporting and rng.random() < 0.1:
            s.disputed(t2, d)
            s.ruled(t2 + step(10, 120), d, rng.choice([None, "water"]))
            continue
        if t2 > routed_at + timedelta(minutes=30) and rng.random() < 0.5:
            s.breached(
                routed_at + timedelta(minutes=31), "ack", d, routed_at + timedelta(minutes=30)
            )
        s.acknowledged(t2, d)
    t += step(60, 600)
    s.contacted(t, lead)
    if rng.random() < 0.2:
        key = f"resolve:{lead}"
        s.paused(t + step(1, 30), [key])
        pause = step(60, 600)
        resolve_due += pause
        s.resumed(t + step(31, 60) + pause, [key], pause, {key: resolve_due})
    t += step(60, 3000)
    s.progress(t, lead)
    if rng.random() < 0.1:
        wanted = resolve_due + timedelta(days=3)
        s.extension_requested(t + step(1, 10), lead, resolve_due, wanted)
        s.extension_granted(t + step(11, 60), lead, resolve_due, wanted)
        resolve_due = wanted
    t += step(600, 14000)
    if t > resolve_due:
        s.breached(resolve_due + timedelta(minutes=1), "resolve", lead, resolve_due)
        s.escalated(resolve_due + timedelta(minutes=2))
    for d in supporting:
        if s.lead and any(
            e.get("department") == d and e["type"] == "DepartmentAcknowledged" for e in s.events
        ):
            s.completed(t, d)
    if rng.random() < 0.1:
        return s  # still open
    s.resolved(t + step(1, 10), rng.choice(["solved", "solved", "explained"]))
    t += step(600, 3000)
    solved = rng.random() < 0.9
    satisfied = solved and rng.random() < 0.9
    s.callback(t, solved, satisfied)
    if not satisfied and rng.random() < 0.5:
        s.reopened(t + step(10, 60), 1)
        t += step(600, 3000)
        s.resolved(t)
        s.callback(t + step(60, 600), True, True)
    if rng.random() < 0.8:
        s.closed(t + step(600, 1200))
    return s


def encode_event(event: Event) -> bytes:
    """Compact UTF-8 JSON, as ``whistle.domain.encode`` writes it."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
