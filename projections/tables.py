"""Column lists of the read-model tables (mirroring the migrations), for COPY and comparison."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any


@dataclass(frozen=True)
class TableSpec:
    """A read-model table: its columns with defaults, its key, and its per-case-ness."""

    name: str
    columns: tuple[tuple[str, Any], ...]
    key: tuple[str, ...]
    cohort: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """The case's cohort columns this table copies (migration 0002)."""
    child_key: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """The key without case_id: how one case's rows of this table are told apart."""

    def __post_init__(self) -> None:
        template = {c: v for c, v in self.columns}
        lists = tuple(c for c, v in self.columns if isinstance(v, list))
        object.__setattr__(self, "_template", template)
        object.__setattr__(self, "_lists", lists)
        object.__setattr__(self, "_getter", itemgetter(*self.column_names))
        object.__setattr__(self, "cohort", tuple(c for c in COHORT_COLUMNS if c in template))
        object.__setattr__(self, "child_key", self.key[1:])

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in table order."""
        return tuple(c for c, _ in self.columns)

    def defaults(self) -> dict[str, Any]:
        """A fresh row with every column at its default (lists copied)."""
        row: dict[str, Any] = self._template.copy()  # type: ignore[attr-defined]
        for name in self._lists:  # type: ignore[attr-defined]
            row[name] = list(row[name])
        return row

    def record(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """The row as a tuple in column order, for ``copy_records_to_table``."""
        return self._getter(row)  # type: ignore[attr-defined,no-any-return]


COHORT_COLUMNS = ("raised_at", "category", "district", "street", "community")
"""Copied from the case into its assignments, callbacks and clocks (migration 0002)."""
COHORT: tuple[tuple[str, Any], ...] = tuple((c, None) for c in COHORT_COLUMNS)

CASES = TableSpec(
    "cases",
    (
        ("case_id", None),
        ("applied_seq", 0),
        ("last_event_id", None),
        ("status", "raised"),
        ("title", None),
        ("category", None),
        ("urgency", None),
        ("channel", None),
        ("area", None),
        ("district", None),
        ("street", None),
        ("community", None),
        ("raised_at", None),
        ("raised_by", None),
        ("lead_department", None),
        ("departments", []),
        ("routed_at", None),
        ("first_contact_at", None),
        ("joint_action_at", None),
        ("resolved_at", None),
        ("resolution", None),
        ("closed_at", None),
        ("final_reason", None),
        ("duplicate_of", None),
        ("reopen_count", 0),
        ("callback_count", 0),
        ("last_solved", None),
        ("last_satisfied", None),
        ("escalation_tier", None),
        ("escalation_step", None),
        ("escalated_at", None),
        ("published_at", None),
        ("breach_count", 0),
        ("updated_at", None),
        ("description", None),
        ("address", None),
        ("location_lat", None),
        ("location_lon", None),
    ),
    ("case_id",),
)

ASSIGNMENTS = TableSpec(
    "assignments",
    (
        ("case_id", None),
        ("department", None),
        ("role", None),
        ("active", True),
        ("dispatched_at", None),
        ("ack_due_at", None),
        ("acknowledged_at", None),
        ("acknowledged_in_time", None),
        ("disputed", False),
        ("dispute_count", 0),
        ("completed_at", None),
        ("released_at", None),
        ("breached", False),
        *COHORT,
    ),
    ("case_id", "department"),
)

CLOCKS = TableSpec(
    "clocks",
    (
        ("case_id", None),
        ("clock", None),
        ("department", ""),
        ("mode", None),
        ("started_at", None),
        ("due_at", None),
        ("paused_at", None),
        ("paused_seconds", 0.0),
        ("stopped_at", None),
        ("breached_at", None),
        ("breaches", 0),
        ("status", "running"),
        *COHORT,
    ),
    ("case_id", "clock", "department"),
)

DISPUTES = TableSpec(
    "disputes",
    (
        ("case_id", None),
        ("seq", None),
        ("department", None),
        ("reason", None),
        ("note", None),
        ("raised_at", None),
        ("raised_by", None),
        ("status", "awaiting"),
        ("outcome", None),
        ("reassigned_to", None),
        ("ruled_at", None),
        ("ruled_by", None),
    ),
    ("case_id", "seq"),
)

EXTENSIONS = TableSpec(
    "extension_requests",
    (
        ("case_id", None),
        ("seq", None),
        ("department", None),
        ("clock", None),
        ("requested_due_at", None),
        ("reason", None),
        ("requested_at", None),
        ("requested_by", None),
        ("status", "pending"),
        ("granted_due_at", None),
        ("decided_at", None),
        ("decided_by", None),
    ),
    ("case_id", "seq"),
)

ESCALATIONS = TableSpec(
    "escalations",
    (
        ("case_id", None),
        ("seq", None),
        ("tier", None),
        ("step", None),
        ("reason", None),
        ("escalated_at", None),
        ("escalated_by", None),
        ("department", None),
    ),
    ("case_id", "seq"),
)

CALLBACKS = TableSpec(
    "callbacks",
    (
        ("case_id", None),
        ("seq", None),
        ("department", None),
        ("solved", None),
        ("satisfied", None),
        ("fault", None),
        ("called_at", None),
        ("recorded_by", None),
        *COHORT,
        ("score", None),
    ),
    ("case_id", "seq"),
)

JOINT_ACTIONS = TableSpec(
    "joint_action_departments",
    (
        ("case_id", None),
        ("action_id", None),
        ("department", None),
        ("position", 0),
        ("at", None),
        ("place", None),
        ("note", None),
        ("scheduled_at", None),
        ("scheduled_by", None),
        ("reported_in_at", None),
        ("reported_in_by", None),
    ),
    ("case_id", "action_id", "department"),
)
"""集结 per department (migration 0007): the action's time and place, the department's 报到."""

ATTACHMENTS = TableSpec(
    "attachments",
    (
        ("case_id", None),
        ("stage", None),
        ("sha256", None),
        ("seq", None),
        ("position", 0),
        ("content_type", None),
        ("size", None),
        ("department", None),
        ("note", None),
        ("attached_at", None),
        ("attached_by", None),
    ),
    ("case_id", "seq", "sha256"),
)
"""附图 (migration 0010): each photo attached to the case, by the event that attached it."""

CASE_EVENTS = TableSpec(
    "case_events",
    (
        ("case_id", None),
        ("seq", None),
        ("event_id", None),
        ("type", None),
        ("occurred_at", None),
        ("actor_user_id", None),
        ("actor_role", None),
        ("actor_department", None),
        ("actor_area", None),
        ("command_id", None),
        ("body", None),
        ("log_partition", None),
        ("log_offset", None),
    ),
    ("case_id", "seq"),
)

CHILD_TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        ASSIGNMENTS,
        CLOCKS,
        DISPUTES,
        EXTENSIONS,
        ESCALATIONS,
        CALLBACKS,
        JOINT_ACTIONS,
        ATTACHMENTS,
    )
}
METRIC_DAYS = TableSpec(
    "metric_days",
    (
        ("day", None),
        ("grain", None),
        ("department", None),
        ("community", None),
        ("street", None),
        ("district", None),
        ("category", None),
        ("dispatched", 0),
        ("acknowledged_in_time", 0),
        ("acknowledged", 0),
        ("disputed", 0),
        ("ack_s", []),
        ("callbacks", 0),
        ("solved", 0),
        ("satisfied", 0),
        ("cases", 0),
        ("resolved", 0),
        ("reopened", 0),
        ("resolve_s", []),
        ("breaches", 0),
        ("score_sum", 0),
        ("score_count", 0),
    ),
    ("day", "grain", "department", "community", "category"),
)
"""Daily metric roll-ups (migration 0004): computed in SQL from the tables above, not COPYed."""

TABLES: dict[str, TableSpec] = {
    "cases": CASES,
    **CHILD_TABLES,
    "case_events": CASE_EVENTS,
    "metric_days": METRIC_DAYS,
}
"""Every read-model table the projector writes, in load/flush order (the comparison reads all)."""
