"""Response bodies of the read endpoints (documented in OpenAPI; extra read-model columns pass)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json


class Open(BaseModel):
    """A view that documents its main fields and passes the read model's other columns."""

    model_config = ConfigDict(extra="allow")


class CaseSummary(Open):
    """One case as listed."""

    case_id: str
    status: str
    title: str | None = None
    category: str | None = None
    urgency: str | None = None
    channel: str | None = None
    area: str | None = Field(default=None, description="Most precise area code of the case.")
    community: str | None = None
    street: str | None = None
    district: str | None = None
    lead_department: str | None = None
    departments: list[str] = Field(default_factory=list, description="Active, lead first.")
    raised_at: datetime | None = None
    routed_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    breach_count: int = 0
    reopen_count: int = 0


class JointActionDepartment(Open):
    """One department of a joint action and its 报到 (null until its liaison reports in)."""

    department: str
    reported_in_at: datetime | None = None
    reported_in_by: str | None = None


class JointActionView(Open):
    """A scheduled 集结: when, where, who, and who has reported in."""

    action_id: str
    at: datetime
    place: str
    note: str | None = None
    scheduled_at: datetime | None = None
    scheduled_by: str | None = None
    assembled_at: datetime | None = Field(
        default=None, description="When the last department reported in (null until then)."
    )
    departments: list[JointActionDepartment] = Field(default_factory=list)


class AttachmentView(Open):
    """A photo attached to the case: its hash, stage, type, size, who attached it and when,
    and where its original (the case's parties only) and its thumbnail are served."""

    sha256: str
    stage: str = Field(description="raise | progress | resolution | publish")
    content_type: str
    size: int
    department: str | None = None
    note: str | None = None
    attached_at: datetime
    attached_by: str
    url: str
    thumbnail_url: str


class CaseDetail(CaseSummary):
    """One case with the whistle's text and place, its assignments, SLA clocks, 集结 and photos."""

    description: str | None = None
    address: str | None = None
    location_lat: float | None = None
    location_lon: float | None = None
    assignments: list[dict[str, Any]] = Field(default_factory=list)
    clocks: list[dict[str, Any]] = Field(default_factory=list)
    joint_actions: list[JointActionView] = Field(default_factory=list)
    attachments: list[AttachmentView] = Field(default_factory=list)


class CaseList(BaseModel):
    """A page of cases."""

    items: list[CaseSummary]
    limit: int
    offset: int


class TimelineEntry(Open):
    """One event of a case, as recorded in the log."""

    seq: int
    type: str
    occurred_at: datetime
    command_id: str | None = None
    body: dict[str, Any] = Field(default_factory=dict)


class Timeline(BaseModel):
    """The case's events in order."""

    case_id: str
    events: list[TimelineEntry]


class CaseAsOf(BaseModel):
    """The case folded from its events up to ``at`` (the domain's case state)."""

    case_id: str
    at: datetime
    seq: int = Field(description="Sequence number of the last event at or before ``at``.")
    state: dict[str, Any]


class CommandStatus(BaseModel):
    """Whether a command has been applied yet (poll target of a 202)."""

    case_id: str
    command_id: str
    status: str = Field(description="applied")
    events: list[TimelineEntry]


class Rows(BaseModel):
    """A list of read-model rows (breaches, disputes, extension requests)."""

    items: list[dict[str, Any]]


class Metrics(BaseModel):
    """三率 per group (and per period bucket): response, resolution and satisfaction rates."""

    group_by: str
    period: str
    since: datetime | None = None
    until: datetime | None = None
    items: list[dict[str, Any]]


def json_response(payload: Any, status_code: int = 200) -> Response:
    """Read-model rows as JSON, serialized once in Rust (pydantic-core) on the hot read path.

    The route's ``response_model`` still documents the shape; FastAPI does not re-validate a
    returned Response, which is what keeps reads cheap (see docs/benchmarks.md, API).
    """
    return Response(to_json(payload), status_code=status_code, media_type="application/json")
