"""Per-event-type handlers: copy what each event says into the read-model rows (no decisions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from projections.model import CaseRows, Model, Row
from whistle.domain.areas import case_area, district_of, street_of
from whistle.domain.types import TIER_ORDER

Event = dict[str, Any]
Handler = Callable[[Model, CaseRows, Event, datetime], None]
HANDLERS: dict[str, Handler] = {}
"""Event type → how it changes the read-model rows, filled by ``@handles``."""

NO_READ_MODEL_EFFECT: frozenset[str] = frozenset()
"""Event types that deliberately change no read model (every other event needs a handler)."""

_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)


def handles(event_type: str) -> Callable[[Handler], Handler]:
    """Register a handler for ``event_type``."""

    def register(fn: Handler) -> Handler:
        HANDLERS[event_type] = fn
        return fn

    return register


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _split_key(key: str) -> tuple[str, str]:
    kind, _, department = key.partition(":")
    return kind, department


def _clock(model: Model, case_id: str, key: str) -> Row:
    kind, department = _split_key(key)
    row = model.child(case_id, "clocks", (kind, department))
    assert row is not None
    return row


def _assignment(model: Model, case_id: str, department: str) -> Row:
    row = model.child(case_id, "assignments", (department,))
    assert row is not None
    return row


def _start_clocks(model: Model, case_id: str, plans: list[dict[str, Any]]) -> None:
    """(Re)start the clocks as planned by routing, a reassignment or a reopening."""
    for plan in plans:
        kind, department = plan["kind"], plan["department"]
        row = model.child(case_id, "clocks", (kind, department))
        assert row is not None
        due = _ts(plan["due_at"])
        row.update(
            mode=plan["mode"],
            started_at=_ts(plan["started_at"]),
            due_at=due,
            paused_at=None,
            paused_seconds=0.0,
            stopped_at=None,
            breached_at=None,
            status="running",
        )
        if kind == "ack":
            _assignment(model, case_id, department)["ack_due_at"] = due


def _meet(rows: CaseRows, kind: str, department: str | None, at: datetime) -> None:
    """Stop the running ``kind`` clocks (of ``department``, or every department) as met."""
    for (k, dept), clock in rows.table("clocks").items():
        if k == kind and (department is None or dept == department) and clock["stopped_at"] is None:
            clock.update(stopped_at=at, paused_at=None, status="met")


def _stop_all(rows: CaseRows, at: datetime, status: str) -> None:
    for clock in rows.table("clocks").values():
        if clock["stopped_at"] is None:
            clock.update(stopped_at=at, paused_at=None, status=status)


def _sync_departments(rows: CaseRows) -> None:
    """The case's active departments: the lead first, then the others in name order."""
    case = rows.case
    active = sorted(a["department"] for a in rows.table("assignments").values() if a["active"])
    lead = case["lead_department"]
    if lead in active and active[0] != lead:
        active.remove(lead)
        active.insert(0, lead)
    case["departments"] = active


@handles("WhistleRaised")
def whistle_raised(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """A new case: where (address, location), what (description), how urgent."""
    community = ev["community"]
    location = ev.get("location") or {}
    rows.case.update(
        description=ev.get("description"),
        address=ev.get("address"),
        location_lat=location.get("lat"),
        location_lon=location.get("lon"),
        status="raised",
        title=ev.get("title"),
        category=ev.get("category"),
        urgency=ev.get("urgency"),
        channel=ev.get("channel", "whistle"),
        area=case_area(community, ev.get("compound"), ev.get("grid")),
        district=district_of(community),
        street=street_of(community),
        community=community,
        raised_at=at,
        raised_by=ev["actor"]["user_id"],
    )


@handles("CaseRouted")
def case_routed(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """Dispatched to a lead and supporting departments, with every clock's due time."""
    case_id = rows.case["case_id"]
    roles = {ev["lead"]: "lead", **{d: "supporting" for d in ev.get("supporting", ())}}
    for department, role in roles.items():
        a = _assignment(model, case_id, department)
        a.update(role=role, active=True, dispatched_at=at, released_at=None)
    rows.case.update(status="routed", lead_department=ev["lead"])
    if rows.case["routed_at"] is None:
        rows.case["routed_at"] = at
    _start_clocks(model, case_id, ev.get("clocks", []))
    _sync_departments(rows)


@handles("DepartmentAcknowledged")
def department_acknowledged(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """签收: the department signed; in time as the decider judged it (else versus its due)."""
    a = _assignment(model, rows.case["case_id"], ev["department"])
    if a["acknowledged_at"] is None:
        within = ev.get("within_deadline")
        if within is None:
            within = a["ack_due_at"] is None or at <= a["ack_due_at"]
        a.update(acknowledged_at=at, acknowledged_in_time=within)
    _meet(rows, "ack", ev["department"], at)
    if ev["department"] == rows.case["lead_department"] and rows.case["status"] == "routed":
        rows.case["status"] = "in_progress"


@handles("AssignmentDisputed")
def assignment_disputed(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """退单: a dispute awaits a ruling; the clocks keep running."""
    case_id = rows.case["case_id"]
    a = _assignment(model, case_id, ev["department"])
    a.update(disputed=True, dispute_count=a["dispute_count"] + 1)
    d = model.child(case_id, "disputes", (ev["seq"],))
    assert d is not None
    d.update(
        department=ev["department"],
        reason=ev.get("reason"),
        note=ev.get("text"),
        raised_at=at,
        raised_by=ev["actor"]["user_id"],
    )


@handles("DisputeRuled")
def dispute_ruled(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """A ruling: uphold keeps the department; reassign moves its part to another department."""
    case_id = rows.case["case_id"]
    department = ev["department"]
    for d in rows.table("disputes").values():
        if d["department"] == department and d["status"] == "awaiting":
            d.update(
                status="ruled",
                outcome=ev["outcome"],
                reassigned_to=ev.get("new_department"),
                ruled_at=at,
                ruled_by=ev["actor"]["user_id"],
            )
    old = _assignment(model, case_id, department)
    old["disputed"] = False
    new = ev.get("new_department")
    if ev["outcome"] == "reassign" and new:
        old.update(active=False, released_at=at)
        clocks = rows.table("clocks")
        for kind, dept in list(clocks):
            if dept != department:
                continue
            if kind == "ack":  # the old department's sign-for clock ends with its part
                clock = clocks[(kind, dept)]
                if clock["stopped_at"] is None:
                    clock.update(stopped_at=at, paused_at=None, status="released")
            else:  # its other clocks move, as they are, to the new department
                moved = clocks.pop((kind, dept))
                moved["department"] = new
                clocks[(kind, new)] = moved
        a = _assignment(model, case_id, new)
        a.update(role=old["role"], active=True, dispatched_at=at, released_at=None)
        if rows.case["lead_department"] == department:
            rows.case["lead_department"] = new
        _start_clocks(model, case_id, ev.get("clocks", []))
        _sync_departments(rows)


@handles("RequesterContacted")
def requester_contacted(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """The requester was contacted: the department's contact clock is met."""
    if rows.case["first_contact_at"] is None:
        rows.case["first_contact_at"] = at
    _meet(rows, "contact", ev["department"], at)


@handles("JointActionScheduled")
def joint_action_scheduled(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """集结 scheduled: its time, place and departments (the clock runs until they report in)."""
    rows.case["joint_action_at"] = _ts(ev["at"])
    case_id = rows.case["case_id"]
    for position, department in enumerate(ev["departments"]):
        row = model.child(case_id, "joint_action_departments", (ev["action_id"], department))
        assert row is not None
        row.update(
            position=position,
            at=_ts(ev["at"]),
            place=ev["place"],
            note=ev.get("note") or None,
            scheduled_at=at,
            scheduled_by=ev["actor"]["user_id"],
        )


@handles("DepartmentReportedIn")
def department_reported_in(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """报到 at a joint action; the arrival that assembles it meets the joint-action clock."""
    key = (ev["action_id"], ev["department"])
    row = model.child(rows.case["case_id"], "joint_action_departments", key)
    assert row is not None
    row.update(reported_in_at=at, reported_in_by=ev["actor"]["user_id"])
    if ev.get("assembled"):
        _meet(rows, "joint_action", None, at)


@handles("ProgressReported")
def progress_reported(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """办理 progress: only the timeline records it."""


@handles("DepartmentCompleted")
def department_completed(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """A department's part is done."""
    _assignment(model, rows.case["case_id"], ev["department"])["completed_at"] = at


@handles("CaseResolved")
def case_resolved(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """办结: resolved by the lead; every resolve clock is met."""
    rows.case.update(status="resolved", resolved_at=at, resolution=ev.get("outcome"))
    a = _assignment(model, rows.case["case_id"], ev["department"])
    if a["completed_at"] is None:
        a["completed_at"] = at
    _meet(rows, "resolve", None, at)


@handles("CallbackRecorded")
def callback_recorded(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """回访: the resident's verdict, counted for the lead department at that time."""
    case = rows.case
    cb = model.child(case["case_id"], "callbacks", (ev["seq"],))
    assert cb is not None
    cb.update(
        department=case["lead_department"],
        solved=ev["solved"],
        satisfied=ev["satisfied"],
        score=ev.get("score"),
        fault=ev.get("fault"),
        called_at=at,
        recorded_by=ev["actor"]["user_id"],
    )
    case.update(
        callback_count=case["callback_count"] + 1,
        last_solved=ev["solved"],
        last_satisfied=ev["satisfied"],
    )


@handles("CaseReopened")
def case_reopened(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """Reopened: back in progress with restarted clocks."""
    rows.case.update(
        status="in_progress",
        reopen_count=ev["reopen_count"],
        resolved_at=None,
        resolution=None,
        closed_at=None,
        final_reason=None,
    )
    for a in rows.table("assignments").values():
        if a["active"]:
            a["completed_at"] = None
    _start_clocks(model, rows.case["case_id"], ev.get("clocks", []))


def _finish(rows: CaseRows, at: datetime, status: str, reason: str | None) -> None:
    rows.case.update(status=status, closed_at=at, final_reason=reason)
    _stop_all(rows, at, "stopped")


@handles("CaseClosed")
def case_closed(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """Closed after evaluation."""
    _finish(rows, at, "closed", ev.get("note") or None)


@handles("CaseWithdrawn")
def case_withdrawn(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """Withdrawn by the community."""
    _finish(rows, at, "withdrawn", ev.get("reason"))


@handles("CaseMarkedDuplicate")
def case_marked_duplicate(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """A duplicate of another case."""
    _finish(rows, at, "duplicate", None)
    rows.case["duplicate_of"] = ev["original_case_id"]


@handles("CaseMergedInto")
def case_merged_into(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """合并: merged into the original case, closed as its duplicate."""
    _finish(rows, at, "duplicate", ev.get("note") or None)
    rows.case["duplicate_of"] = ev["original_case_id"]


@handles("DuplicateMerged")
def duplicate_merged(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """合并了: a duplicate was merged into this case; only the timeline records it."""


@handles("ExtensionRequested")
def extension_requested(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """延期 asked: pending until a supervisor decides."""
    x = model.child(rows.case["case_id"], "extension_requests", (ev["seq"],))
    assert x is not None
    x.update(
        department=ev["department"],
        clock=ev["clock"],
        requested_due_at=_ts(ev["requested_due_at"]),
        reason=ev.get("reason"),
        requested_at=at,
        requested_by=ev["actor"]["user_id"],
    )


def _decide_extension(rows: CaseRows, ev: Event, at: datetime, status: str) -> None:
    for x in rows.table("extension_requests").values():
        key = f"{x['clock']}:{x['department']}"
        if key == ev["clock_key"] and x["status"] == "pending":
            x.update(status=status, decided_at=at, decided_by=ev["actor"]["user_id"])
            if status == "granted":
                x["granted_due_at"] = _ts(ev["due_at"])


@handles("ExtensionGranted")
def extension_granted(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """Granted: the clock's due time moves and its breach, if any, is cleared."""
    _decide_extension(rows, ev, at, "granted")
    clock = _clock(model, rows.case["case_id"], ev["clock_key"])
    clock.update(due_at=_ts(ev["due_at"]), breached_at=None)


@handles("ExtensionRefused")
def extension_refused(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """Refused: the due time stays."""
    _decide_extension(rows, ev, at, "refused")


@handles("ClockPaused")
def clock_paused(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """Clocks paused while waiting for the requester."""
    for key in ev["clock_keys"]:
        _clock(model, rows.case["case_id"], key).update(paused_at=at, status="paused")


@handles("ClockResumed")
def clock_resumed(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """Clocks resumed with the due times the decider computed."""
    due = ev.get("due_at", {})
    paused_for = ev.get("paused_for", {})
    for key in ev["clock_keys"]:
        clock = _clock(model, rows.case["case_id"], key)
        if key in paused_for:  # in the clock's own mode (working time), as the decider counted
            paused = _DURATION.validate_python(paused_for[key]).total_seconds()
        else:
            paused = (at - clock["paused_at"]).total_seconds() if clock["paused_at"] else 0.0
        clock.update(
            paused_at=None,
            paused_seconds=clock["paused_seconds"] + paused,
            status="running",
            due_at=_ts(due.get(key)) or clock["due_at"],
        )


@handles("ClockBreached")
def clock_breached(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """A clock passed its due time unmet."""
    case_id = rows.case["case_id"]
    clock = _clock(model, case_id, ev["clock_key"])
    clock.update(breached_at=at, breaches=clock["breaches"] + 1)
    rows.case["breach_count"] += 1
    if ev.get("department"):
        _assignment(model, case_id, ev["department"])["breached"] = True


@handles("CaseEscalated")
def case_escalated(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """催办 / 督办 / 通报 by a tier."""
    e = model.child(rows.case["case_id"], "escalations", (ev["seq"],))
    assert e is not None
    e.update(
        tier=ev["tier"],
        step=ev["step"],
        reason=ev.get("reason"),
        escalated_at=at,
        escalated_by=ev["actor"]["user_id"],
        department=ev.get("department") or rows.case["lead_department"] or "",
    )
    tier = ev["tier"]
    current = rows.case["escalation_tier"]
    if current is not None and TIER_ORDER[current] > TIER_ORDER[tier]:
        tier = current  # the case stays at the highest tier it reached
    rows.case.update(escalation_tier=tier, escalation_step=ev["step"], escalated_at=at)


@handles("CasePublished")
def case_published(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """晒事: published to the community."""
    rows.case["published_at"] = at


@handles("PhotosAttached")
def photos_attached(model: Model, rows: CaseRows, ev: Event, at: datetime) -> None:
    """附图: one row per photo, in the order attached (the bytes stay in the blob store)."""
    case_id, seq = rows.case["case_id"], ev["seq"]
    for position, photo in enumerate(ev["photos"]):
        row = model.child(case_id, "attachments", (seq, photo["sha256"]))
        assert row is not None
        row.update(
            stage=ev["stage"],
            position=position,
            content_type=photo["content_type"],
            size=photo["size"],
            department=ev.get("department"),
            note=ev.get("note") or None,
            attached_at=at,
            attached_by=ev["actor"]["user_id"],
        )
