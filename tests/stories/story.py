"""``Story``: one case played through the domain's ``decide`` and ``evolve``.

Two ways to drive it, on the same state and event list: the domain tests hand it commands
(``do``, ``rejected``); the read-side tests and benchmarks use its vocabulary of steps at
chosen instants (``raised``, ``routed``, ``acknowledged``…), each one a real command decided
at that instant. Either way every event is the domain's own, and ``wire``/``encoded`` give it
in the codec's format, so a change to an event's contract reaches every test that uses one.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from tests.stories.commands import CASE, JINHAI, T0, ack, raise_whistle
from whistle.domain import (
    SYSTEM,
    Acknowledge,
    Actor,
    BreachClock,
    CaseState,
    CloseCase,
    Command,
    ContactRequester,
    DisputeAssignment,
    Escalate,
    Event,
    GrantExtension,
    PauseClock,
    PublishCase,
    RaiseWhistle,
    RecordCallback,
    Rejection,
    ReopenCase,
    ReportCompletion,
    ReportIn,
    ReportProgress,
    RequestExtension,
    ResolveCase,
    ResumeClock,
    RouteCase,
    RuleOnDispute,
    ScheduleJointAction,
    WithdrawCase,
    deadline_command,
    decide,
    encode,
    evolve,
    fire_due,
    load_rules,
    pending_deadlines,
    route,
)
from whistle.domain.rejections import MISSING
from whistle.domain.sla import plan_clock
from whistle.domain.values import ClockPlan

ACK_BUDGET = timedelta(minutes=30)
RESOLVE_BUDGET = timedelta(days=7)


@cache
def secretary_of(community: str) -> Actor:
    """The community's secretary (书记)."""
    return Actor(user_id=f"sec-{community}", role="secretary", area=community)


@cache
def liaison_of(department: str) -> Actor:
    """The department's liaison (联络员)."""
    return Actor(user_id=f"liaison-{department}", role="liaison", department=department)


@cache
def supervisor_of(community: str) -> Actor:
    """The supervisor of the community's street."""
    street = ".".join(community.split(".")[:2])
    return Actor(user_id=f"sup-{street}", role="supervisor", area=street)


class Story:
    """A case played through ``decide``/``evolve``, keeping every event."""

    def __init__(
        self,
        case_id: str = CASE,
        community: str = JINHAI,
        now: datetime = T0,
        live: bool = False,
    ) -> None:
        self.case_id = case_id
        self.community = community
        self.state: CaseState | None = None
        self.events: list[Event] = []
        self.now = now
        self.live = live
        """Whether the deadlines fire by themselves, as the worker's tracker fires them: before
        each command, every deadline due before its instant, at its due time (``fire_until``)."""

    # -- driven by commands ------------------------------------------------------------------

    def later(self, **delta: float) -> Story:
        """Advance the story's clock."""
        self.now += timedelta(**delta)
        return self

    def attempt(self, command: Command, at: datetime | None = None) -> list[Event] | Rejection:
        """``decide`` only: the outcome without applying it."""
        return decide(self.state, command, at or self.now)

    def do(self, command: Command, at: datetime | None = None) -> list[Event]:
        """Decide and apply; fails the test on a rejection. A ``live`` story first fires the
        deadlines due before ``at``."""
        if self.live:
            self.fire_until(at or self.now)
        result = self.attempt(command, at)
        assert not isinstance(result, Rejection), f"{command.type} rejected: {result}"
        for event in result:
            self.state = evolve(self.state, event)
            self.events.append(event)
        return result

    def fire_until(self, limit: datetime) -> list[Event]:
        """Fire every deadline due before ``limit``, each at its due time in due order with the
        domain's ``fire_due`` (the tracker's firing); the events (also kept)."""
        fired: list[Event] = []
        tried: set[tuple[str, datetime]] = set()
        while self.state is not None:
            due = [
                d for d in pending_deadlines(self.state)
                if d.due_at < limit and (d.key, d.due_at) not in tried
            ]  # fmt: skip
            if not due:
                return fired
            at = min(d.due_at for d in due)
            tried.update((d.key, d.due_at) for d in due if d.due_at == at)
            self.state, events = fire_due(self.state, at)
            self.events += events
            fired += events
        return fired

    def rejected(self, command: Command, code: str, at: datetime | None = None) -> Rejection:
        """Assert that ``command`` is refused with ``code`` and the state is untouched."""
        before = self.state
        result = self.attempt(command, at)
        assert isinstance(result, Rejection), f"{command.type} accepted: {result}"
        assert result.code == code, result
        assert result.message
        assert result.message_zh and MISSING not in result.message_zh + result.message, result
        assert self.state is before
        return result

    def routing(self, at: datetime | None = None) -> RouteCase:
        """The system's routing command for the case at ``at`` (default: now)."""
        assert self.state is not None
        return route(load_rules(), self.state, at or self.now)

    @property
    def s(self) -> CaseState:
        """The current state (the case exists)."""
        assert self.state is not None
        return self.state

    # -- in the codec's format ---------------------------------------------------------------

    def encoded(self) -> list[bytes]:
        """Every event as the event log holds it (``whistle.domain.encode``)."""
        return [encode(event) for event in self.events]

    def wire(self) -> list[dict[str, Any]]:
        """Every event as the read side decodes it: the codec's JSON as a dict."""
        return [wire(event) for event in self.events]

    def wire_pairs(self) -> list[tuple[dict[str, Any], str]]:
        """Every event as ``projections.apply.apply_event`` takes it: the dict and its JSON."""
        texts = [encode(event).decode() for event in self.events]
        return [(json.loads(text), text) for text in texts]

    # -- steps at chosen instants ------------------------------------------------------------

    def _step(self, at: datetime, command_type: type[Command], /, **fields: Any) -> Event:
        """Decide one command at ``at`` (a deterministic command id) and return its event."""
        seq = len(self.events) + 1
        fields.setdefault("command_id", f"cmd-{self.case_id}-{seq}")
        command = command_type(case_id=self.case_id, **fields)
        [event] = self.do(command, at)
        return event

    @property
    def lead(self) -> str | None:
        """The lead department (None before routing)."""
        return None if self.state is None else self.state.lead

    def _lead_liaison(self) -> Actor:
        return liaison_of(self.lead or "unknown")

    def raised(self, at: datetime, category: str = "parking", **fields: Any) -> Event:
        """吹哨 by the community's secretary (``fields``: any other field of the whistle)."""
        fields.setdefault("title", f"{category} at {self.community}")
        fields.setdefault("address", f"{self.community} 1号")
        return self._step(
            at,
            RaiseWhistle,
            actor=secretary_of(self.community),
            community=self.community,
            category=category,
            **fields,
        )

    def routed(
        self,
        at: datetime,
        lead: str,
        supporting: tuple[str, ...] = (),
        ack: timedelta = ACK_BUDGET,
        resolve: timedelta = RESOLVE_BUDGET,
    ) -> Event:
        """派 by the system to ``lead`` and ``supporting``, with calendar-time ack and resolve
        clocks (rule ``r1`` of rule set ``v1``)."""
        clocks = [plan("ack", d, at, ack) for d in (lead, *supporting)]
        return self._step(
            at,
            RouteCase,
            actor=SYSTEM,
            lead=lead,
            supporting=supporting,
            rule_id="r1",
            rules_version="v1",
            policy="default",
            clocks=(*clocks, plan("resolve", lead, at, resolve)),
        )

    def acknowledged(self, at: datetime, department: str, within: bool | None = None) -> Event:
        """签收; ``within``, when given, is what the test expects the decider to judge."""
        event = self._step(at, Acknowledge, actor=liaison_of(department), department=department)
        if within is not None:
            assert event.within_deadline is within, (department, event)  # type: ignore[attr-defined]
        return event

    def contacted(self, at: datetime, department: str) -> Event:
        """The department phoned the requester."""
        return self._step(at, ContactRequester, actor=liaison_of(department), department=department)

    def progress(self, at: datetime, department: str, note: str = "on site") -> Event:
        """办理 progress."""
        return self._step(
            at, ReportProgress, actor=liaison_of(department), department=department, note=note
        )

    def disputed(self, at: datetime, department: str, text: str = "not ours") -> Event:
        """退单: wrong function."""
        return self._step(
            at,
            DisputeAssignment,
            actor=liaison_of(department),
            department=department,
            reason="wrong_function",
            text=text,
        )

    def ruled(self, at: datetime, department: str, new_department: str | None) -> Event:
        """The street supervisor's ruling on a dispute (reassign when ``new_department``)."""
        return self._step(
            at,
            RuleOnDispute,
            actor=supervisor_of(self.community),
            department=department,
            outcome="reassign" if new_department else "uphold",
            new_department=new_department,
            reason="按职能清单",
        )

    def joint_action(
        self, at: datetime, when: datetime, place: str, departments: list[str]
    ) -> Event:
        """集结 at ``when``, scheduled by the lead's liaison."""
        return self._step(
            at,
            ScheduleJointAction,
            actor=self._lead_liaison(),
            at=when,
            place=place,
            departments=tuple(departments),
        )

    def reported_in(
        self, at: datetime, action_id: str, department: str, assembled: bool | None = None
    ) -> Event:
        """报到 at a joint action; ``assembled``, when given, is what the test expects."""
        event = self._step(
            at, ReportIn, actor=liaison_of(department), department=department, action_id=action_id
        )
        if assembled is not None:
            assert event.assembled is assembled, event  # type: ignore[attr-defined]
        return event

    def completed(self, at: datetime, department: str) -> Event:
        """A department's part done."""
        return self._step(
            at,
            ReportCompletion,
            actor=liaison_of(department),
            department=department,
            summary="done",
        )

    def resolved(self, at: datetime, outcome: str = "solved") -> Event:
        """办结 by the lead."""
        return self._step(
            at, ResolveCase, actor=self._lead_liaison(), outcome=outcome, summary="fixed"
        )

    def published(self, at: datetime, summary: str) -> Event:
        """晒事 by the community's secretary (a resolved or closed case, once)."""
        return self._step(at, PublishCase, actor=secretary_of(self.community), summary=summary)

    def callback(
        self, at: datetime, solved: bool, satisfied: bool, score: int | None = None
    ) -> Event:
        """回访; the score is 5 when satisfied, 2 when not, unless given; an unsatisfied
        resident blames the department."""
        return self._step(
            at,
            RecordCallback,
            actor=secretary_of(self.community),
            solved=solved,
            satisfied=satisfied,
            score=score if score is not None else 5 if satisfied else 2,
            fault="none" if satisfied else "department",
        )

    def reopened(self, at: datetime, count: int | None = None) -> Event:
        """Reopened (the resolve clocks restart); ``count``, when given, is the expected
        reopen count."""
        event = self._step(at, ReopenCase, actor=secretary_of(self.community), reason="not fixed")
        if count is not None:
            assert event.reopen_count == count, event  # type: ignore[attr-defined]
        return event

    def closed(self, at: datetime) -> Event:
        """Closed after the callback."""
        return self._step(at, CloseCase, actor=secretary_of(self.community))

    def withdrawn(self, at: datetime) -> Event:
        """Withdrawn by the community."""
        return self._step(
            at, WithdrawCase, actor=secretary_of(self.community), reason="solved by itself"
        )

    def breached(self, at: datetime, kind: str, department: str) -> Event:
        """The deadline tracker fires the clock ``kind:department`` at ``at`` (its command,
        from the case's pending deadlines)."""
        command = breach_command(self.s, f"{kind}:{department}", at)
        [event] = self.do(command, at)
        return event

    def escalated(
        self, at: datetime, step: str = "reminder", tier: str = "street", reason: str = "late"
    ) -> Event:
        """催办 etc. by the street supervisor."""
        return self._step(
            at, Escalate, actor=supervisor_of(self.community), step=step, tier=tier, reason=reason
        )

    def extension_requested(self, at: datetime, department: str, wanted: datetime) -> Event:
        """延期 asked on the department's resolve clock, until ``wanted``."""
        return self._step(
            at,
            RequestExtension,
            actor=liaison_of(department),
            department=department,
            clock="resolve",
            until=wanted,
            reason="materials",
        )

    def extension_granted(self, at: datetime, department: str) -> Event:
        """The street supervisor grants the pending 延期 on the department's resolve clock."""
        return self._step(
            at,
            GrantExtension,
            actor=supervisor_of(self.community),
            clock_key=f"resolve:{department}",
        )

    def paused(self, at: datetime, keys: list[str]) -> Event:
        """Clocks paused by the lead, waiting for the resident."""
        return self._step(
            at,
            PauseClock,
            actor=self._lead_liaison(),
            clock_keys=tuple(keys),
            reason="waiting for the resident",
        )

    def resumed(self, at: datetime, keys: list[str]) -> Event:
        """Clocks resumed by the lead (the decider moves their due times)."""
        return self._step(at, ResumeClock, actor=self._lead_liaison(), clock_keys=tuple(keys))


def plan(kind: str, department: str, at: datetime, budget: timedelta) -> ClockPlan:
    """A calendar-time clock started at ``at``, planned by the domain's SLA code."""
    return plan_clock(kind, department, "calendar", budget, at)  # type: ignore[arg-type]


def breach_command(state: CaseState, key: str, fired_at: datetime) -> BreachClock:
    """The deadline tracker's command for the pending breach of clock ``key``."""
    [deadline] = [d for d in pending_deadlines(state) if d.clock_key == key and d.kind == "breach"]
    command = deadline_command(state, deadline, fired_at)
    assert isinstance(command, BreachClock)
    return command


def system_breach_command(state: CaseState, key: str, fired_at: datetime) -> Command:
    """The deadline tracker's command for the pending deadline ``key``."""
    found = {d.key: d for d in pending_deadlines(state)}
    return deadline_command(state, found[key], fired_at)


def wire(event: Event) -> dict[str, Any]:
    """One event as the read side decodes it: the codec's JSON as a dict."""
    decoded: dict[str, Any] = json.loads(encode(event))
    return decoded


def routed_story(**raise_fields: Any) -> Story:
    """A 金海 whistle raised and routed (by the routing rules) at T0."""
    story = Story()
    story.do(raise_whistle(**raise_fields))
    story.do(story.routing())
    return story


def working_story() -> Story:
    """Routed, and every department acknowledged."""
    story = routed_story()
    for dept in story.s.assignments:
        story.do(ack(dept))
    return story
