"""The supervisor's pages (街道/区 督办): the workspace (today's board, the cases in scope, the
disputes and extensions waiting), a case page with the timeline and the rulings (退单 ruling,
延期 approval or refusal, manual 催办 / 督办 / 通报), and the metrics (三率, times, the average
callback score) for a chosen period and area with drill-down district → street → community →
department, each table exported as CSV and XLSX.

Every action is the API's command (``whistle.domain.commands``, the same the ``/v1/cases/{id}/
dispute/ruling``, ``extension/grant|refuse`` and ``escalate`` routes build) sent on the same
bus; reads go through the read gateway with ``Scope.of(principal)`` (narrowed, never widened,
by the metrics' area).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from whistle.domain import commands
from whistle.domain.areas import within
from whistle.domain.rejections import CLOCK_NAMES
from whistle.domain.types import DisputeOutcome, EscalationStep, Tier
from whistle.read.gateway import MetricsQuery
from whistle.read.scope import CaseFilters, Scope
from whistle.web.actions import (
    CHINA,
    Action,
    CaseActions,
    CaseId,
    case_of,
    command_values,
    services_of,
)
from whistle.web.liaison_routes import _logged, area_name, china_time, department_name, status_name
from whistle.web.messages import PAGES
from whistle.web.pages import FormPage, Page, PageError, redirect, render, roles
from whistle.web.secretary_routes import _departments

router = APIRouter()
supervisor_page = roles("supervisor", "admin")
LIST_LIMIT = 200
"""The workspace lists at most this many cases of the scope, the newest first."""

OUTCOMES: tuple[str, ...] = get_args(DisputeOutcome)
STEPS: tuple[str, ...] = get_args(EscalationStep)
TIERS: tuple[str, ...] = get_args(Tier)
LEVELS: tuple[str, ...] = ("district", "street", "community", "department")
"""The metrics' drill-down, each level's rows opening the next one's table."""
EXPORTS = ("csv", "xlsx")


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "ruling", commands.RuleOnDispute, ("department", "outcome", "new_department", "reason")
        ),
        Action("grant", commands.GrantExtension, ("clock_key", "until", "note")),
        Action("refuse", commands.RefuseExtension, ("clock_key", "reason")),
        Action("escalate", commands.Escalate, ("step", "tier", "reason", "clock_key")),
    )
}


# --- workspace and case page -------------------------------------------------------------


@router.get("/supervisor", response_class=HTMLResponse, include_in_schema=False)
async def workspace(page: Annotated[Page, Depends(supervisor_page)]) -> Response:
    """督办工作台: today's board, the waiting disputes and extensions, the cases in scope."""
    read = services_of(page).read
    scope = Scope.of(page.principal)
    cases = await read.cases(scope, CaseFilters(limit=LIST_LIMIT))
    disputes = await read.disputes(scope)
    extensions = await read.extensions(scope)
    rows = [
        {
            "case": c,
            "status": status_name(page, c["status"]),
            "community": area_name(c.get("community"), page.lang),
            "lead_name": department_name(c.get("lead_department"), page.lang),
            "raised": china_time(c.get("raised_at")),
            "breached": bool(c.get("breach_count")),
        }
        for c in cases
    ]
    return render(
        page,
        "supervisor.html",
        rows=rows,
        disputes=[_dispute_view(page, d) for d in disputes],
        extensions=[_extension_view(page, x) for x in extensions],
    )


def _dispute_view(page: Page, d: dict[str, Any]) -> dict[str, Any]:
    return {
        "case_id": d["case_id"],
        "department": d.get("department"),
        "department_name": department_name(d.get("department"), page.lang),
        "reason": _reason(page, d.get("reason")),
        "note": d.get("note") or "",
        "raised": china_time(d.get("raised_at")),
    }


def _reason(page: Page, reason: Any) -> str:
    """A 退单 reason in words (its code when the catalogue has none)."""
    key = f"reason_{reason}"
    return page.t(key) if key in PAGES else str(reason or "")


def _extension_view(page: Page, x: dict[str, Any]) -> dict[str, Any]:
    names = CLOCK_NAMES.get(str(x.get("clock")), (str(x.get("clock")), str(x.get("clock"))))
    return {
        "case_id": x["case_id"],
        "clock_key": x["clock_key"],
        "clock_name": names[1] if page.lang == "en" else names[0],
        "department_name": department_name(x.get("department"), page.lang),
        "until": china_time(x.get("requested_due_at")),
        "until_value": x["requested_due_at"].astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")
        if x.get("requested_due_at")
        else "",
        "reason": x.get("reason") or "",
        "requested": china_time(x.get("requested_at")),
    }


@router.get("/supervisor/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
async def case_page(case_id: CaseId, page: Annotated[Page, Depends(supervisor_page)]) -> Response:
    """督办 a case: its facts, departments, timeline, the ruling / approval / escalation forms."""
    done = page.request.query_params.get("done")
    return await _case_page(page, case_id, {}, {}, done=done if done in ACTIONS else None)


async def _case_page(
    page: Page,
    case_id: str,
    errors: dict[str, dict[str, str]],
    values: dict[str, dict[str, str]],
    status: int = 200,
    done: str | None = None,
) -> HTMLResponse:
    case = await case_of(page, case_id)
    read = services_of(page).read
    scope = Scope.of(page.principal)
    timeline = await read.timeline(case_id)
    disputes = [
        _dispute_view(page, d) for d in await read.disputes(scope) if d["case_id"] == case_id
    ]
    extensions = [
        _extension_view(page, x) for x in await read.extensions(scope) if x["case_id"] == case_id
    ]
    departments = [(d, department_name(d, page.lang)) for d in case.get("departments") or []]
    return render(
        page,
        "supervisor_case.html",
        status,
        case=case,
        status_name=status_name(page, case["status"]),
        community=area_name(case.get("community"), page.lang),
        lead_name=department_name(case.get("lead_department"), page.lang),
        assignments=[
            a | {"name": department_name(a.get("department"), page.lang)}
            for a in case.get("assignments") or []
        ],
        disputes=disputes,
        extensions=extensions,
        departments=departments,
        all_departments=sorted(
            (code, d.name_en if page.lang == "en" else d.name_zh)
            for code, d in _departments(page).items()
        ),
        log=[_logged(page, e) for e in timeline],
        errors=errors,
        values=values,
        done=done,
        outcomes=OUTCOMES,
        steps=STEPS,
        tiers=TIERS,
    )


def _done(page: FormPage, case_id: str, action: Action) -> Response:
    return redirect(page, f"/supervisor/cases/{case_id}?done={action.name}#act-{action.name}")


CASE_ACTIONS = CaseActions(
    "supervisor",
    supervisor_page,
    "the supervisor's case page",
    lambda page, action: command_values(page, action.fields),
    _case_page,
    _done,
)
CASE_ACTIONS.add_routes(router, ACTIONS.values())


# --- metrics -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One metrics table: its level, area, range, and its rows in words and figures."""

    level: str
    area: str | None
    since: date
    until: date
    rows: list[dict[str, Any]]


COLUMNS: tuple[str, ...] = (
    "group",
    "dispatched",
    "response_rate",
    "callbacks",
    "resolution_rate",
    "satisfaction_rate",
    "average_score",
    "ack_median_h",
    "resolve_median_h",
    "breaches",
)
"""The figures of a table, in order (``col_<name>`` in the catalogue)."""


def _day(value: str, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        raise PageError(422, "bad_period") from None


async def metrics_table(page: Page) -> Table:
    """The table the query asks for: ``level`` (district|street|community|department), ``area``
    (within the supervisor's own), ``since`` and ``until`` (days in China time, until
    inclusive; the last 30 days by default)."""
    query = page.request.query_params
    principal = page.principal
    own = Scope.of(principal)
    level = query.get("level") or ("district" if own.area is None else _below(own.area))
    if level not in LEVELS:
        raise PageError(422, "bad_level")
    area = query.get("area") or own.area
    if own.area is not None and (area is None or not within(area, own.area)):
        raise PageError(403, "area_out_of_scope")
    today = datetime.now(CHINA).date()
    until = _day(query.get("until", ""), today)
    since = _day(query.get("since", ""), until - timedelta(days=29))
    if since > until:
        raise PageError(422, "bad_period")
    scope = Scope(area=area)
    start = datetime.combine(since, time(), tzinfo=CHINA)
    end = datetime.combine(until + timedelta(days=1), time(), tzinfo=CHINA)
    items = await services_of(page).read.metrics(
        MetricsQuery(scope, level, "all", since=start, until=end)  # type: ignore[arg-type]
    )
    rows = []
    for item in items:
        group = item.get("group")
        name = (
            department_name(group, page.lang)
            if level == "department"
            else area_name(group, page.lang)
        )
        rows.append(
            {
                "code": group,
                "group": name,
                "dispatched": item.get("dispatched") or 0,
                "response_rate": item.get("response_rate"),
                "callbacks": item.get("callbacks") or 0,
                "resolution_rate": item.get("resolution_rate"),
                "satisfaction_rate": item.get("satisfaction_rate"),
                "average_score": item.get("average_score"),
                "ack_median_h": _hours(item.get("ack_median_s")),
                "resolve_median_h": _hours(item.get("resolve_median_s")),
                "breaches": item.get("breaches") or 0,
            }
        )
    rows.sort(key=lambda r: str(r["code"]))
    return Table(level, area, since, until, rows)


def _below(area: str) -> str:
    """The level under ``area`` (``tongan`` → streets, ``tongan.datong`` → communities)."""
    depth = area.count(".")
    return LEVELS[min(depth + 1, len(LEVELS) - 1)]


def _hours(seconds: Any) -> float | None:
    return round(float(seconds) / 3600, 2) if seconds is not None else None


def shown(name: str, value: Any) -> str:
    """A figure as the page shows it: rates in per cent, none as a dash."""
    if value is None:
        return "—"
    if name.endswith("_rate"):
        return f"{100 * float(value):.1f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _next(level: str) -> str | None:
    at = LEVELS.index(level)
    return LEVELS[at + 1] if at + 1 < len(LEVELS) else None


@router.get("/supervisor/metrics", response_class=HTMLResponse, include_in_schema=False)
async def metrics_page(page: Annotated[Page, Depends(supervisor_page)]) -> Response:
    """考核: 三率, times and the average score for a period and area, with drill-down."""
    table = await metrics_table(page)
    after = _next(table.level)
    period = f"since={table.since.isoformat()}&until={table.until.isoformat()}"
    here = f"level={table.level}&area={table.area or ''}&{period}"
    rows = [
        {
            "cells": [shown(c, r[c]) for c in COLUMNS],
            "drill": f"/supervisor/metrics?level={after}&area={r['code']}&{period}"
            if after and r["code"]
            else None,
        }
        for r in table.rows
    ]
    area_label = area_name(table.area, page.lang) if table.area else page.t("all_areas")
    return render(
        page,
        "supervisor_metrics.html",
        table=table,
        rows=rows,
        columns=COLUMNS,
        levels=LEVELS,
        area_label=area_label,
        here=here,
        chart=chart_figures(page, table, area_label),
    )


CHARTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "rates": ("chart_percent", ("response_rate", "resolution_rate", "satisfaction_rate")),
    "times": ("chart_hours", ("ack_median_h", "resolve_median_h")),
}
"""The metrics page's charts (``static/supervisor-metrics.js``): each one's axis name and the
table's columns it draws, one bar a row of the table."""


def chart_figures(page: Page, table: Table, area_label: str) -> dict[str, Any]:
    """The table's own figures for its charts, as the page embeds them in JSON: the rows'
    names, and for each chart its axis name, a series a column (rates in per cent), its
    ``aria-label`` and whether it has no figure at all (the page then says so instead)."""
    words = {"area": area_label, "level": page.t(f"level_{table.level}").lower(),
             "since": table.since.isoformat(), "until": table.until.isoformat(),
             "count": len(table.rows)}  # fmt: skip
    charts = {}
    for name, (axis, columns) in CHARTS.items():
        series = [
            {"name": page.t(f"col_{c}"), "data": [_charted(c, r[c]) for r in table.rows]}
            for c in columns
        ]
        charts[name] = {
            "axis": page.t(axis),
            "series": series,
            "label": page.t(f"chart_{name}_label", **words),
            "empty": all(v is None for s in series for v in s["data"]),
        }
    return {
        "locale": "EN" if page.lang == "en" else "ZH",
        "groups": [r["group"] for r in table.rows],
        "charts": charts,
    }


def _charted(name: str, value: Any) -> float | None:
    """A figure as its chart draws it: a rate in per cent (as the table shows it), else as is."""
    if value is None:
        return None
    return round(100 * float(value), 1) if name.endswith("_rate") else float(value)


def _export_rows(page: Page, table: Table) -> list[list[Any]]:
    head = [page.t("col_code"), *(page.t(f"col_{c}") for c in COLUMNS)]
    return [head, *([r["code"], *(r[c] for c in COLUMNS)] for r in table.rows)]


def _filename(table: Table, ext: str) -> str:
    area = (table.area or "all").replace(".", "-")
    return f"metrics-{table.level}-{area}-{table.since}-{table.until}.{ext}"


@router.get("/supervisor/metrics.csv", include_in_schema=False)
async def metrics_csv(page: Annotated[Page, Depends(supervisor_page)]) -> Response:
    """The metrics table as CSV (UTF-8 with a BOM, which Excel needs to read Chinese)."""
    table = await metrics_table(page)
    out = io.StringIO()
    writer = csv.writer(out)
    for row in _export_rows(page, table):
        writer.writerow(["" if v is None else v for v in row])
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename(table, "csv")}"'},
    )


@router.get("/supervisor/metrics.xlsx", include_in_schema=False)
async def metrics_xlsx(page: Annotated[Page, Depends(supervisor_page)]) -> Response:
    """The metrics table as an XLSX workbook (openpyxl): numbers as numbers, rates as %."""
    from openpyxl import Workbook

    table = await metrics_table(page)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.level
    for row in _export_rows(page, table):
        sheet.append(row)
    for at, name in enumerate(COLUMNS, start=2):
        if name.endswith("_rate"):
            for (cell,) in sheet.iter_rows(min_row=2, min_col=at, max_col=at):
                cell.number_format = "0.0%"
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_filename(table, "xlsx")}"'},
    )
