"""One case replayed under a proposed configuration version, fed its original events in order.

The case's original events are applied to the read-model rows as the projector applies them
(``projections.apply``), and, grouped by the command that caused them, drive the replay:

* a held command (``whistle.whatif.held``) is decided again with ``decide`` at its original
  instant, on the replayed state; a refusal is counted (``refused``), never forced;
* a raised whistle is routed at once with the proposed version, as the worker's router does
  (``streams.app.Streams._route``): ``route`` with its rules, policies and calendar;
* before each held command, the deadlines of the replayed state that come due before it are
  fired with the domain's ``fire_due`` (what the decider does with a tracker's firing): at the
  instant the original log fired the same deadline (same key and due time), else at its due
  time; after the last event, those due before the horizon.

The replayed events go to a second set of read-model rows. Only the current state and the two
sets of rows are held: nothing of the case survives its ``finish`` but its figures.

**Mirrored cases.** When the proposed version's domain context (areas, departments, calendar)
is that of every version in force over the replay (``Proposed.mirror``, set by the caller), a
case whose replayed routing is the original's (same lead, supporting departments, rule,
policy, clocks and ladder) would be decided exactly as it was: ``decide`` is a pure function of
the state, the command, its instant and that context, and the held commands and firings come
at the original instants. Such a case stops being decided at its first routing, and its
replayed rows are its original rows (``CaseReplay.mirrored``). A unit test checks that a tally
with mirroring equals the tally of the full replay.

**Delta mode** (``Proposed.delta``, with the original side read off the live read models:
``whistle.whatif.live``). A case's original events are held, not projected, until it is known
whether it is mirrored. A mirrored case is then done: its outcome says ``unchanged`` and holds
no rows (both sides count it in the read models' figures), and its later events need not be
read. Any other case is projected and replayed in full, as above.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from projections.apply import ApplyStats, apply_event
from projections.model import CaseRows, Model
from whistle.config.versions import ConfigVersion
from whistle.domain import (
    CaseState,
    Command,
    Deadline,
    Event,
    Rejection,
    deadline_command,
    decide,
    evolve,
    fire_due,
    pending_deadlines,
    pending_times,
    route,
)
from whistle.domain.areas import use_areas
from whistle.domain.calendar import use_calendar
from whistle.domain.commands import PauseClock, ResumeClock, RouteCase
from whistle.domain.events import WhistleRaised
from whistle.whatif.held import command_of, deadline_key, re_derived

RULE = "whatif_rule_id"
"""Key of the first routing's rule in a replay's ``cases`` row (never written anywhere)."""

_due_at = attrgetter("due_at")


class Proposed:
    """The configuration version a replay decides with: its router, areas and calendar."""

    def __init__(self, version: ConfigVersion, mirror: bool = False, delta: bool = False) -> None:
        self.version = version
        self.mirror = mirror
        """Whether a case routed as it was is mirrored (module docstring): only when the
        version's areas, departments and calendar are those of every version in force over
        the replay (``same_context``)."""
        self.delta = delta
        """Delta mode (module docstring): a mirrored case ends at its mirroring, rowless."""

    def enter(self) -> None:
        """Make the version's areas, departments and calendar the domain's (this context)."""
        config = self.version.document
        use_areas(config.areas, config.departments)
        use_calendar(self.version.calendar)

    def route(self, event: WhistleRaised) -> RouteCase:
        """The router's command for ``event`` under this version (as the worker routes)."""
        config = self.version.document
        return route(
            config.routing,
            event,
            event.occurred_at,
            policies=config.policies,
            calendar=self.version.calendar,
            policy_version=self.version.policy_version,
        )


ROUTING_FIELDS = ("lead", "supporting", "rule_id", "policy", "clocks", "escalation")
"""What of a ``CaseRouted`` decides the rest of the case (its versions are labels)."""


def domain_context(version: ConfigVersion) -> tuple[Any, ...]:
    """What of a version ``decide`` reads besides the case: areas, departments, calendar."""
    config = version.document
    return (config.areas, config.departments, version.calendar)


def same_context(proposed: ConfigVersion, in_force: Iterable[ConfigVersion]) -> bool:
    """Whether ``proposed`` decides with the domain context of every version ``in_force``."""
    mine = domain_context(proposed)
    return all(domain_context(v) == mine for v in in_force)


@dataclass
class CaseOutcome:
    """A replayed case's two sets of read-model rows and what the replay counted."""

    case_id: str
    original: CaseRows
    replayed: CaseRows | None
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(command type, department or '') → held commands the replayed case refused."""
    escalations: tuple[Counter[str], Counter[str]] = field(
        default_factory=lambda: (Counter[str](), Counter[str]())
    )
    """Escalations by department (the event's, else the lead's), original and replayed."""
    unchanged: bool = False
    """Delta mode: decided exactly as it was; neither side's rows are held."""


def tracker_command(state: CaseState, due: list[Deadline], at: datetime) -> Command:
    """The command the deadline tracker sends for a case's ``due`` deadlines (in due order):
    the first breach's, else the first ladder rung's (``DeadlineTracker.command_for``).

    Both built by ``deadline_command``, from the validated state without validating again.
    The tracker builds a breach's with ``breach_command``, from its index (key, due epoch
    seconds): the same command but for ``due_at``'s time zone, which the decision does not
    read (``decisions.clocks._breach`` reads the clock's own due time), so the same events.
    """
    return deadline_command(state, next((d for d in due if d.kind == "breach"), due[0]), at)


def fold_into(state: CaseState, events: list[Event]) -> CaseState:
    """``state`` with ``events`` applied."""
    for event in events:
        state = evolve(state, event)
    return state


def _row_dict(event: Event) -> dict[str, Any]:
    """The event as the projector reads it off the log: its JSON-mode dump, equal to
    ``orjson.loads(encode(event))`` without the bytes in between (a unit test checks).

    pydantic-core's ``to_jsonable_python`` (the model's own serializer, as ``model_dump``
    uses it, without the keyword handling in between: some 15 % less per event; by field
    name, as ``model_dump`` and ``encode`` write)."""
    return to_jsonable_python(event, by_alias=False)  # type: ignore[no-any-return]


class RoutingProbe:
    """Delta mode's first look at a case: is it routed as it was, so done at its routing?

    The mirroring test without deciding anything: under a mirroring proposal the replayed
    raise is the original ``WhistleRaised`` (``decide`` is pure, same context, same instant),
    and the replayed ``CaseRouted`` carries the router's ``RouteCase`` fields as they are
    (``whistle.domain.decisions.intake._route``, accepted since the original, with the same
    fields on the same state, was). So the router's command for the original raise is compared
    with the log's first routing; a unit test checks the verdict is ``CaseReplay``'s.
    """

    def __init__(self, proposed: Proposed) -> None:
        self.proposed = proposed
        self.events: list[dict[str, Any]] = []
        """The case's original events so far (a case found changed replays them)."""
        self.raise_id: Any = None
        self.expected: dict[str, Any] = {}

    def feed(self, event: dict[str, Any]) -> bool | None:
        """The next original event: True, routed as it was (unchanged); False, to be replayed
        (``events``, this one included); None, not known yet."""
        if not self.events:
            raised = WhistleRaised.model_validate(event)
            command = self.proposed.route(raised)
            self.expected = command.model_dump(mode="json", include=set(ROUTING_FIELDS))
            self.raise_id = event.get("command_id")
            self.events.append(event)
            return None
        if event.get("command_id") == self.raise_id:
            self.events.append(event)
            return None
        if event["type"] == "CaseRouted" and all(
            event.get(f) == self.expected[f] for f in ROUTING_FIELDS
        ):
            return True
        self.events.append(event)
        return False


class CaseReplay:
    """Feed one case's original events in seq order, then ``finish`` it."""

    def __init__(
        self,
        case_id: str,
        proposed: Proposed,
        horizon: datetime,
        keep: bool = False,
        mirrorable: bool = True,
    ) -> None:
        self.case_id = case_id
        self.kept: list[dict[str, Any]] | None = [] if keep else None
        """With ``keep``, the replayed events (tests compare them with the original log)."""
        self.proposed = proposed
        self.horizon = horizon
        self.original = Model()
        self.replayed = Model()
        self.state: CaseState | None = None
        self.stats = ApplyStats()
        self.fired: dict[str, dict[float, datetime]] = {}
        """Deadline key → due epoch seconds → when the original log fired it (by key first:
        most of a replay's deadlines have a key the original never fired)."""
        self.fired_early = False
        """Whether the original log fired a deadline before its due time (never, as the
        domain decides; ``_nothing_before`` then takes its longer way)."""
        self.group: list[dict[str, Any]] = []
        self.all_running: bool | None = None  # the group's pause/resume named every clock
        self.outcome = CaseOutcome(case_id, self.original.case_rows(case_id), None)
        self.routing: dict[str, Any] | None = None
        """The replayed first ``CaseRouted``, compared with the original's when that is the
        very next group of the log (else the case is decided throughout), then dropped."""
        self.deferred: list[dict[str, Any]] | None = (
            [] if proposed.mirror and mirrorable and not keep else None
        )
        """Replayed events held back until the case is known not to be mirrored."""
        self.mirrored = False
        """Routed as it was under a mirroring proposal: no longer decided (module docstring)."""
        self.held: list[dict[str, Any]] | None = (
            [] if proposed.delta and self.deferred is not None else None
        )
        """Delta mode: the original events, held until the case is known not to be mirrored."""

    # ---- the original log -----------------------------------------------------------------
    def feed(self, event: dict[str, Any]) -> None:
        """The next original event of the case (decoded as the projector decodes it)."""
        if self.mirrored:
            self._original(event)
            return
        if self.group and self.group[0].get("command_id") != event.get("command_id"):
            self._flush()
            if self.mirrored:
                self._original(event)
                return
        if not self.group:
            self.all_running = self._names_every_clock(event)
        self._original(event)
        self.group.append(event)

    def _original(self, event: dict[str, Any]) -> None:
        """Project an original event (delta mode: hold it while undecided, drop it once the
        case is unchanged)."""
        if self.outcome.unchanged:
            return
        if self.held is not None:
            self.held.append(event)
            return
        self._project(event, 0, self.original)

    def _names_every_clock(self, event: dict[str, Any]) -> bool | None:
        """Whether a pause (resume) names every running (paused) clock of the original case:
        then the replayed command names none, meaning every clock of the replayed case."""
        wanted = {"ClockPaused": "running", "ClockResumed": "paused"}.get(event["type"])
        if wanted is None:
            return None
        clocks = self.original.case_rows(self.case_id).table("clocks")
        keys = {f"{k}:{d}" for (k, d), row in clocks.items() if row["status"] == wanted}
        return keys == set(event.get("clock_keys", ()))

    def _flush(self) -> None:
        group, self.group = self.group, []
        first = group[0]
        if re_derived(first):
            if self.routing is not None and first["type"] == "CaseRouted":
                self._mirror_if_unchanged(first)
            elif self.state is not None:
                self._end_deferral()
            for event in group:
                self._remember_firing(event)
            return
        command = command_of(first)
        if command is None:
            return
        if self.state is not None:
            self._end_deferral()
        if self.all_running and isinstance(command, PauseClock | ResumeClock):
            command = command.model_copy(update={"clock_keys": ()})
        at = datetime.fromisoformat(first["occurred_at"])
        self._fire_before(at)
        self._decide(command, at)

    def _remember_firing(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind != "ClockBreached" and (kind != "CaseEscalated" or event.get("lateness") is None):
            return
        key = deadline_key(event)
        if key is None:
            return
        at = datetime.fromisoformat(event["occurred_at"])
        if kind == "ClockBreached":
            due = datetime.fromisoformat(event["due_at"])
        else:
            due = at - _seconds(event["lateness"])
        self.fired.setdefault(key, {})[due.timestamp()] = at
        if at < due:
            self.fired_early = True

    def _mirror_if_unchanged(self, original: dict[str, Any]) -> None:
        """At the original's first routing: mirror the case if routed as it was."""
        replayed, self.routing = self.routing, None
        assert replayed is not None
        if all(replayed.get(f) == original.get(f) for f in ROUTING_FIELDS):
            self.mirrored, self.deferred = True, None
            self.state = None  # a mirrored case holds only its original rows from now on
            self.replayed.cases.clear()
            self.fired.clear()
            if self.held is not None:  # delta mode: neither side's rows from now on
                self.held, self.outcome.unchanged = None, True
                self.original.cases.clear()
        else:
            self._end_deferral()

    def _end_deferral(self) -> None:
        """No mirroring for this case: its held-back replayed events onto the replayed rows."""
        self.routing = None
        held, self.held = self.held, None
        for event in held or ():
            self._project(event, 0, self.original)
        deferred, self.deferred = self.deferred, None
        for event in deferred or ():
            self._project(event, 1, self.replayed)

    # ---- the replay -----------------------------------------------------------------------
    def _decide(self, command: Command, at: datetime) -> None:
        outcome = decide(self.state, command, at)
        if isinstance(outcome, Rejection):
            department = getattr(command, "department", None) or command.actor.department or ""
            self.outcome.refused[(command.type, department)] += 1
            return
        self._apply(outcome)
        if outcome and isinstance(outcome[0], WhistleRaised):
            routing = decide(self.state, self.proposed.route(outcome[0]), at)
            if not isinstance(routing, Rejection):
                self._apply(routing)
                first = routing[0] if routing else None
                if self.proposed.mirror and self.kept is None and first is not None:
                    self.routing = _row_dict(first) if first.type == "CaseRouted" else None

    def _apply(self, events: list[Event]) -> None:
        for event in events:
            self.state = evolve(self.state, event)
            self._project(_row_dict(event), 1, self.replayed)

    def _fire_before(self, limit: datetime) -> None:
        """Fire the replayed state's deadlines whose firing time is before ``limit``, each
        firing as the worker decides one: the tracker's command for the case's earliest due
        deadline (``tracker_command``), then the domain's ``fire_due`` for the others due."""
        if self._nothing_before(limit):
            return
        stuck: set[str] = set()  # fired and changed nothing (left alone, as fire_due does)
        while self.state is not None:
            pending = [d for d in pending_deadlines(self.state) if d.key not in stuck]
            if not pending:
                return
            at = min(self._fire_time(d) for d in pending)
            if at >= limit:
                return
            due = sorted((d for d in pending if d.due_at <= at), key=_due_at)
            events: list[Event] = []
            outcome = decide(self.state, tracker_command(self.state, due, at), at)
            if not isinstance(outcome, Rejection):
                events += outcome
                self.state = fold_into(self.state, outcome)
            assert self.state is not None
            self.state, chained = fire_due(self.state, at)
            events += chained
            if not events:
                stuck.update(d.key for d in due)
                continue
            for event in events:
                self._project(_row_dict(event), 1, self.replayed)

    def _nothing_before(self, limit: datetime) -> bool:
        """Whether no deadline of the replayed state fires before ``limit``: the loop's first
        test, on the deadlines due before ``limit`` alone (``pending_deadlines``' ``due_by``).

        A deadline fires at its due time, or when the original log fired it, never earlier
        (``fired_early`` tells otherwise: then every timer is tested, in epoch seconds as
        ``pending_times`` gives them), so one due after ``limit`` cannot fire before it.
        """
        if self.state is None:
            return True
        if self.fired_early:
            bound = limit.timestamp()
            for key, due in pending_times(self.state).items():
                at = self.fired.get(key, {}).get(due)
                if (due if at is None else at.timestamp()) < bound:
                    return False
            return True
        for d in pending_deadlines(self.state, due_by=limit):
            if d.due_at < limit and self._fire_time(d) < limit:
                return False
        return True

    def _fire_time(self, deadline: Deadline) -> datetime:
        """When the replay fires ``deadline``: when the original log fired it (same key, same
        due time), else at its due time."""
        times = self.fired.get(deadline.key)
        if times is None:
            return deadline.due_at
        return times.get(deadline.due_at.timestamp(), deadline.due_at)

    def _project(self, event: dict[str, Any], side: int, model: Model) -> None:
        """Apply an event to one side's rows as the projector does; note what the rows lack
        (the rule of the first routing, escalations by department)."""
        if side and self.deferred is not None:
            self.deferred.append(event)
            return
        case = model.case_rows(self.case_id).case
        if side and self.kept is not None:
            self.kept.append(event)
        if event["type"] == "CaseEscalated":
            department = event.get("department") or case["lead_department"] or ""
            self.outcome.escalations[side][department] += 1
        apply_event(model, event, "", None, None, self.stats, timeline=False)
        if event["type"] == "CaseRouted" and RULE not in case:
            case[RULE] = event["rule_id"]

    def finish(self) -> CaseOutcome:
        """Decide the last held command, fire what comes due before the horizon; the rows."""
        if self.group:
            self._flush()
        if self.outcome.unchanged:
            return self.outcome
        if self.mirrored:
            self.outcome.replayed = self.outcome.original
            self.outcome.escalations = (self.outcome.escalations[0], self.outcome.escalations[0])
            return self.outcome
        self._end_deferral()
        self._fire_before(self.horizon + timedelta(microseconds=1))
        if self.state is not None:
            self.outcome.replayed = self.replayed.case_rows(self.case_id)
        return self.outcome


_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)


def _seconds(value: Any) -> timedelta:
    """A duration as the wire carries it (ISO 8601 ``PT…S`` or seconds)."""
    return _DURATION.validate_python(value)
