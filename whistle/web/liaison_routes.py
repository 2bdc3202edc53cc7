"""The department liaison's pages (部门联络员): the inbox by nearest deadline, 签收 in one tap,
退单 with a reason, and the case's work page (联系, 集结 and 报到, 进展, 完成, 办结, 延期).

Every action is the API's command (``whistle.domain.commands``) built with the same envelope
and sent on the same bus (进展's photos attached after it, ``photo_forms``); reads go through
the read gateway with ``Scope.of(principal)``. An action answers in place under htmx (the
form's section is swapped from the answer) and with a whole page without it; a refused command
shows ``rejections.render`` beside its form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from whistle.api.liaison import inbox_filters
from whistle.domain import commands
from whistle.domain.areas import department_in_force, known_area
from whistle.domain.rejections import CLOCK_NAMES, STATUS_NAMES
from whistle.domain.steps.attach import MAX_PHOTOS
from whistle.domain.types import ContactChannel, DisputeReason, ResolutionOutcome
from whistle.read.scope import Row, Scope
from whistle.web import actions
from whistle.web.actions import (
    CHINA,
    CaseActions,
    CaseId,
    Forms,
    case_of,
    command_values,
    services_of,
)
from whistle.web.messages import PAGES
from whistle.web.pages import FormPage, Page, redirect, render, roles
from whistle.web.photo_forms import case_photos

router = APIRouter()
liaison_page = roles("liaison")
INBOX_LIMIT = 500
"""The inbox lists at most this many open cases (issue 17: 500 open render under 300 ms)."""
INBOX_PAGE = 100
"""Rows shown at first, and added by 显示更多: 500 rows are ~300 KB of HTML that a browser
lays out in ~150 ms (bench/bench_pages.py); the nearest deadlines come first anyway."""
AMBER = 0.25
"""A countdown turns amber when less than this share of its budget is left."""


def shown_count(value: str | None) -> int:
    """How many inbox rows to show (``?shown=``): a multiple of ``INBOX_PAGE`` up to
    ``INBOX_LIMIT``; anything else (a hand-edited link) shows the first page."""
    count = int(value) if value and value.isdigit() else INBOX_PAGE
    return min(max(INBOX_PAGE, count - count % INBOX_PAGE), INBOX_LIMIT)


DISPUTE_REASONS: tuple[str, ...] = get_args(DisputeReason)
CONTACT_CHANNELS: tuple[str, ...] = get_args(ContactChannel)
OUTCOMES: tuple[str, ...] = get_args(ResolutionOutcome)


@dataclass(frozen=True)
class Action(actions.Action):
    """A form of the work page: its command and the form fields it takes."""

    department: bool = True
    """The liaison's own department fills the command's ``department``."""


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("acknowledge", commands.Acknowledge, ()),
        Action("dispute", commands.DisputeAssignment, ("reason", "text")),
        Action("contact", commands.ContactRequester, ("channel", "note")),
        Action(
            "joint-action",
            commands.ScheduleJointAction,
            ("at", "place", "departments", "note"),
            department=False,
        ),
        Action("report-in", commands.ReportIn, ("action_id",)),
        Action("progress", commands.ReportProgress, ("note",), photos="progress"),
        Action("complete", commands.ReportCompletion, ("summary",)),
        Action("resolve", commands.ResolveCase, ("outcome", "summary"), department=False),
        Action("extension", commands.RequestExtension, ("clock", "until", "reason")),
    )
}


# --- reads -------------------------------------------------------------------------------


def department_name(code: str | None, lang: str) -> str:
    """A department's name in ``lang`` (its code when unknown)."""
    found = department_in_force(code) if code else None
    if found is None:
        return code or "—"
    return found.name_en if lang == "en" else found.name_zh


def area_name(code: str | None, lang: str) -> str:
    """An area's name in ``lang`` (its code when unknown)."""
    found = known_area(code) if code else None
    if found is None:
        return code or "—"
    return found.name_en if lang == "en" else found.name_zh


def china_time(value: datetime | None) -> str:
    """``2026-12-02 17:30`` in Asia/Shanghai, 24-hour; ``—`` for none."""
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else "—"


def countdown(page: Page, seconds: float) -> str:
    """``剩 2 小时 05 分`` / ``超时 1 天 3 小时``: the time left, or overdue, in words."""
    late, left = seconds < 0, int(abs(seconds)) // 60
    days, hours, minutes = left // 1440, left % 1440 // 60, left % 60
    if days:
        span = page.t("span_days", days=days, hours=hours)
    elif hours:
        span = page.t("span_hours", hours=hours, minutes=f"{minutes:02d}")
    else:
        span = page.t("span_minutes", minutes=minutes)
    return page.t("overdue_by" if late else "time_left", span=span)


def clock_view(page: Page, clock: Row) -> dict[str, Any]:
    """A clock as the inbox and the work page show it: name, due time, countdown, colour."""
    remaining = float(clock.get("remaining_seconds") or 0.0)
    started, due = clock.get("started_at"), clock.get("due_at")
    budget = (due - started).total_seconds() if started and due else 0.0
    breached = bool(clock.get("breached")) or remaining < 0
    if breached:
        tone = "red"
    elif budget > 0 and remaining < AMBER * budget:
        tone = "amber"
    else:
        tone = "green"
    names = CLOCK_NAMES.get(clock["clock"], (clock["clock"], clock["clock"]))
    return {
        "kind": clock["clock"],
        "name": names[1] if page.lang == "en" else names[0],
        "department": clock.get("department"),
        "department_name": department_name(clock.get("department"), page.lang),
        "due": china_time(due),
        "due_iso": due.isoformat() if due else "",
        "countdown": countdown(page, remaining),
        "tone": tone,
        "breached": breached,
        "paused": clock.get("status") == "paused",
    }


def status_name(page: Page, status: str) -> str:
    """A case status in words."""
    names = STATUS_NAMES.get(status, (status, status))
    return names[1] if page.lang == "en" else names[0]


async def inbox_rows(page: Page) -> list[dict[str, Any]]:
    """The department's open cases, nearest deadline (of its own clocks) first, then the
    newest; each with its clocks shown and whether it still waits for 签收."""
    principal = page.principal
    read = services_of(page).read
    cases = await read.cases(Scope.of(principal), inbox_filters(principal, None, INBOX_LIMIT, 0))
    deadlines = await read.deadlines([c["case_id"] for c in cases])
    rows: list[tuple[tuple[bool, datetime, int], dict[str, Any]]] = []
    for position, case in enumerate(cases):
        own = [k for k in deadlines.get(case["case_id"], [])
               if k.get("department") == principal.department]  # fmt: skip
        due = min((k["due_at"] for k in own), default=None)
        breached = any(bool(k.get("breached")) for k in own) or bool(case.get("breach_count"))
        order = (due is None, due or datetime.max.replace(tzinfo=UTC), position)
        rows.append(
            (
                order,
                {
                    "case": case,
                    "status": status_name(page, case["status"]),
                    "community": area_name(case.get("community"), page.lang),
                    "clocks": [clock_view(page, k) for k in own],
                    "new": any(k["clock"] == "ack" for k in own),
                    "breached": breached,
                    "lead": case.get("lead_department") == principal.department,
                    "lead_name": department_name(case.get("lead_department"), page.lang),
                    "raised": china_time(case.get("raised_at")),
                },
            )
        )
    rows.sort(key=lambda r: r[0])
    return [row for _, row in rows]


# --- pages -------------------------------------------------------------------------------


@router.get("/liaison", response_class=HTMLResponse, include_in_schema=False)
async def inbox_page(page: Annotated[Page, Depends(liaison_page)]) -> Response:
    """待办: the department's open cases by nearest deadline, with countdowns and breaches."""
    rows = await inbox_rows(page)
    department = department_name(page.principal.department, page.lang)
    signed = page.request.query_params.get("signed")
    shown = shown_count(page.request.query_params.get("shown"))
    return render(page, "liaison_inbox.html", rows=rows[:shown], total=len(rows), shown=shown,
                  errors={}, department=department, signed=signed)  # fmt: skip


@router.get("/liaison/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
async def case_page(case_id: CaseId, page: Annotated[Page, Depends(liaison_page)]) -> Response:
    """The case's work page: its clocks, assignments, joint actions, photos, the log, every
    form (进展 with up to ``MAX_PHOTOS`` photos)."""
    done = page.request.query_params.get("done")
    return await _work_page(page, case_id, {}, {}, done=done if done in ACTIONS else None)


async def _work_page(
    page: Page,
    case_id: str,
    errors: dict[str, dict[str, str]],
    values: dict[str, dict[str, str]],
    status: int = 200,
    done: str | None = None,
) -> HTMLResponse:
    case = await case_of(page, case_id)
    timeline = await services_of(page).read.timeline(case_id)
    own = page.principal.department
    mine = next((a for a in case["assignments"] if a["department"] == own), None)
    if mine is not None:
        mine = mine | {k: _when(mine.get(k)) for k in ("acknowledged_at", "completed_at")}
    clocks = [clock_view(page, k | {"due_at": _instant(k.get("due_at")),
                                    "started_at": _instant(k.get("started_at"))})
              for k in case["clocks"] if k.get("status") in ("running", "paused")]  # fmt: skip
    actions = [
        {
            "action_id": j["action_id"],
            "at": china_time(_instant(j["at"])),
            "place": j["place"],
            "note": j.get("note") or "",
            "departments": [
                {
                    "code": d["department"],
                    "name": department_name(d["department"], page.lang),
                    "in": _when(d["reported_in_at"]),
                }
                for d in j["departments"]
            ],
        }
        for j in case["joint_actions"]
    ]
    log = [_logged(page, e) for e in timeline]
    return render(
        page,
        "liaison_case.html",
        status,
        case=case,
        status_name=status_name(page, case["status"]),
        community=area_name(case.get("community"), page.lang),
        lead=case.get("lead_department") == own,
        lead_name=department_name(case.get("lead_department"), page.lang),
        mine=mine,
        clocks=clocks,
        joint_actions=actions,
        log=log,
        photos=case_photos(page, case),
        max_photos=MAX_PHOTOS,
        departments=[(d, department_name(d, page.lang)) for d in case.get("departments") or []],
        errors=errors,
        values=values,
        done=done,
        reasons=DISPUTE_REASONS,
        channels=CONTACT_CHANNELS,
        outcomes=OUTCOMES,
        clock_kinds=tuple(CLOCK_NAMES),
        clock_names={k: v[1] if page.lang == "en" else v[0] for k, v in CLOCK_NAMES.items()},
    )


def _when(value: Any) -> str | None:
    """A JSON time as China time, None when absent."""
    return china_time(_instant(value)) if value else None


def _instant(value: Any) -> datetime | None:
    """A time of the case row's JSON (an ISO string) or of a column (a datetime)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


LOGGED_TEXT = ("note", "summary", "text", "reason", "place", "outcome", "channel")


CODED = frozenset({"reason", "outcome", "channel"})
"""Logged fields whose values are codes, shown in the page's words (``reason_wrong_function``)."""


def _word(page: Page, field: str, value: str) -> str:
    """A logged field's value as shown: a code in words, anything else as written."""
    key = f"{field}_{value}"
    return page.t(key) if field in CODED and key in PAGES else value


def _logged(page: Page, event: Row) -> dict[str, str]:
    """One timeline entry: when, who, what (in words), and its note, if any."""
    body = event.get("body") or {}
    if isinstance(body, str):
        body = json.loads(body)
    kind = str(event.get("type"))
    key = f"event_{kind}"
    what = page.t(key) if key in PAGES else kind
    words = [
        _word(page, k, body[k]) for k in LOGGED_TEXT if isinstance(body.get(k), str) and body[k]
    ]
    return {
        "at": china_time(_instant(event.get("occurred_at"))),
        "who": department_name(event.get("actor_department"), page.lang)
        if event.get("actor_department")
        else str(event.get("actor_user_id") or ""),
        "what": what,
        "note": " · ".join(words),
    }


# --- actions -----------------------------------------------------------------------------


async def _refused(
    page: FormPage, case_id: str, errors: Forms, values: Forms, status: int
) -> Response:
    """The work page with the messages beside the form; the inbox after 签收 tried there."""
    if "acknowledge" in errors and page.value("from") == "inbox":
        rows = await inbox_rows(page)
        count = shown_count(page.value("shown"))
        return render(page, "liaison_inbox.html", status, rows=rows[:count], total=len(rows),
                      shown=count, signed=None,
                      errors={case_id: errors["acknowledge"].get("form", "")},
                      department=department_name(page.principal.department, page.lang))  # fmt: skip
    return await _work_page(page, case_id, errors, values, status)


def _values(page: FormPage, action: Action) -> dict[str, Any]:
    """The command's fields from the form, the liaison's own department where it acts."""
    out = command_values(page, action.fields)
    if action.department:
        out["department"] = page.principal.department
    return out


def _done(page: FormPage, case_id: str, action: Action) -> Response:
    """Back to the inbox after 签收 there, else to the work page at the form just used."""
    if action.name == "acknowledge" and page.value("from") == "inbox":
        rows = shown_count(page.value("shown"))
        return redirect(page, f"/liaison?signed={case_id}&shown={rows}#case-{case_id}")
    return redirect(page, f"/liaison/cases/{case_id}?done={action.name}#act-{action.name}")


CASE_ACTIONS = CaseActions("liaison", liaison_page, "the liaison's page", _values, _refused, _done)
CASE_ACTIONS.add_routes(router, ACTIONS.values())
