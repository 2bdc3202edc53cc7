"""``GET /v1/audit``: the audit log of administration, for admins, newest first."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from whistle.api.deps import CurrentPrincipal, CurrentServices, require_role
from whistle.api.instants import Instant
from whistle.api.problems import ProblemError, problem_responses
from whistle.audit.entries import AUDIT_FAMILIES, AUDIT_KINDS, AuditLog, AuditQuery

router = APIRouter(tags=["admin"])

KindFilter = Literal[
    "user",
    "webhook",
    "config",
    "notify",
    "user.added",
    "user.revoked",
    "user.role_changed",
    "user.password_reset",
    "user.password_changed",
    "webhook.added",
    "webhook.secret_rotated",
    "webhook.enabled",
    "webhook.disabled",
    "config.published",
    "notify.preferences_set",
    "notify.group_robot_set",
    "notify.group_robot_removed",
    "notify.subscriptions_set",
]
assert set(get_args(KindFilter)) == {*AUDIT_FAMILIES, *AUDIT_KINDS}, "filter lists every kind"


class AuditEntryOut(BaseModel):
    """One change: who (``actor``: a user id, ``cli:<login>`` or ``system:…``), when, what."""

    entry_id: int
    at: str = Field(description="RFC 3339 instant of the change.")
    actor: str
    kind: str
    subject: str = Field(description="What changed: a user id, `webhook <id>`, `config v<n>`.")
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str


class AuditPage(BaseModel):
    """Entries newest first; ``next`` is the URL of the older ones (None on the last page)."""

    items: list[AuditEntryOut]
    next: str | None = None


async def _log(services: Any) -> AuditLog:
    if services.audit is None:
        raise ProblemError(
            503,
            "unavailable",
            detail_key="unavailable",
            detail_values={"what": "audit", "retry": 1},
            headers={"Retry-After": "1"},
        )
    log: AuditLog = services.audit
    return log


@router.get(
    "/v1/audit",
    response_model=AuditPage,
    summary="Audit log of administration: users, tokens, webhook endpoints, configuration",
    responses=problem_responses(401, 403, 422, 503),
    operation_id="listAudit",
)
async def list_audit(
    principal: CurrentPrincipal,
    services: CurrentServices,
    kind: Annotated[
        KindFilter | None, Query(description="A kind (`user.revoked`) or a family (`user`).")
    ] = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    subject: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="Entries older than this entry_id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    """Every change to users and tokens, webhook endpoints and configuration versions, with
    who made it, when, and the state before and after (admins only)."""
    require_role(principal, ("admin",))
    if since is not None and until is not None and until <= since:
        raise ProblemError(422, "validation", detail_key="empty_interval")
    log = await _log(services)
    query = AuditQuery(
        kind=kind,
        actor=actor,
        subject=subject,
        since=since,
        until=until,
        before_id=before,
        limit=limit + 1,
    )
    found = await log.entries(query)
    entries = found[:limit]
    page = AuditPage(items=[AuditEntryOut(**e.as_json()) for e in entries])
    if len(found) > limit:
        params = {
            "kind": kind,
            "actor": actor,
            "subject": subject,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "before": entries[-1].entry_id,
            "limit": limit,
        }
        page.next = "/v1/audit?" + urlencode({k: v for k, v in params.items() if v is not None})
    return page
