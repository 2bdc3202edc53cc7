"""Supervisors (督办): breaches, disputes and extensions to rule on, escalation, and metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from whistle.api.commands import add_command_route
from whistle.api.deps import CurrentPrincipal, CurrentServices
from whistle.api.instants import Instant
from whistle.api.problems import problem_responses
from whistle.api.views import Metrics, Rows, json_response
from whistle.domain import commands
from whistle.read.gateway import GroupBy, MetricsQuery, Period, RankBy
from whistle.read.scope import Scope

router = APIRouter(tags=["supervisor"])

SYSTEM_ONLY = frozenset({"level", "deadline_key", "due_at", "fired_at"})


@router.get(
    "/v1/breaches",
    response_model=Rows,
    summary="Breached SLA clocks of open cases in scope",
    responses=problem_responses(401),
    operation_id="listBreaches",
)
async def breaches(principal: CurrentPrincipal, services: CurrentServices) -> Response:
    """Open breaches with their latest escalation, in the caller's scope."""
    return json_response({"items": await services.read.breaches(Scope.of(principal))})


@router.get(
    "/v1/disputes",
    response_model=Rows,
    summary="Disputes (退单) awaiting a ruling, in scope",
    responses=problem_responses(401),
    operation_id="listDisputes",
)
async def disputes(principal: CurrentPrincipal, services: CurrentServices) -> Response:
    """Disputes awaiting a supervisor's ruling."""
    return json_response({"items": await services.read.disputes(Scope.of(principal))})


@router.get(
    "/v1/extensions",
    response_model=Rows,
    summary="Extension requests (延期) awaiting a decision, in scope",
    responses=problem_responses(401),
    operation_id="listExtensions",
)
async def extensions(principal: CurrentPrincipal, services: CurrentServices) -> Response:
    """Pending extension requests."""
    return json_response({"items": await services.read.extensions(Scope.of(principal))})


@router.get(
    "/v1/metrics",
    response_model=Metrics,
    summary="三率 (response, resolution, satisfaction) and times, grouped and bucketed",
    responses=problem_responses(401, 422),
    operation_id="getMetrics",
)
async def metrics(
    principal: CurrentPrincipal,
    services: CurrentServices,
    group_by: Annotated[GroupBy, Query()] = "department",
    period: Annotated[Period, Query(description="Bucket size, or 'all' for one bucket")] = "all",
    since: Instant | None = None,
    until: Instant | None = None,
) -> Metrics:
    """Rates over the cases in the caller's scope."""
    query = MetricsQuery(Scope.of(principal), group_by, period, since=since, until=until)
    items = await services.read.metrics(query)
    return Metrics(group_by=group_by, period=period, since=since, until=until, items=items)


@router.get(
    "/v1/rankings",
    response_model=Metrics,
    summary="排名: departments, communities, streets or categories ranked by score or a rate",
    responses=problem_responses(401, 422),
    operation_id="getRankings",
)
async def rankings(
    principal: CurrentPrincipal,
    services: CurrentServices,
    group_by: Annotated[GroupBy, Query()] = "department",
    by: Annotated[RankBy, Query(description="What to rank by (higher is better)")] = "score",
    since: Instant | None = None,
    until: Instant | None = None,
) -> Metrics:
    """Groups in the caller's scope ranked over [since, until)."""
    query = MetricsQuery(Scope.of(principal), group_by, by=by, since=since, until=until)
    items = await services.read.rankings(query)
    return Metrics(group_by=group_by, period="all", since=since, until=until, items=items)


add_command_route(router, "/dispute/ruling", commands.RuleOnDispute, summary="Rule on a dispute")
add_command_route(router, "/extension/grant", commands.GrantExtension, summary="Grant an extension")
add_command_route(
    router, "/extension/refuse", commands.RefuseExtension, summary="Refuse an extension"
)
add_command_route(
    router,
    "/escalate",
    commands.Escalate,
    summary="Escalate (催办 / 督办 / 通报)",
    drop=SYSTEM_ONLY,
)
