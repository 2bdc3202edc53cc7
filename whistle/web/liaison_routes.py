"""The department liaison's pages (部门联络员): the inbox by nearest deadline, 签收 in one tap,
退单 with a reason, and the case's work page (联系, 集结 and 报到, 进展, 完成, 办结, 延期).

Every action is the API's command (``whistle.domain.commands``) built with the same envelope
and sent on the same bus; reads go through the read gateway with ``Scope.of(principal)``. An
action answers in place under htmx (the form's section is swapped from the answer) and with a
whole page without it; a refused command shows ``rejections.render`` beside its form.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Path
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from whistle.api.commands import command_id_for
from whistle.api.deps import Services, visible
from whistle.api.liaison import inbox_filters
from whistle.api.problems import field_errors
from whistle.bus import DecisionTimeout
from whistle.domain import commands
from whistle.domain.areas import department_in_force, known_area
from whistle.domain.base import Command
from whistle.domain.rejections import CLOCK_NAMES, STATUS_NAMES
from whistle.domain.rejections import render as rejection_text
from whistle.domain.types import ContactChannel, DisputeReason, ResolutionOutcome
from whistle.read.scope import Row, Scope
from whistle.web.messages import PAGES
from whistle.web.pages import FormPage, Page, PageError, form, redirect, render, roles

router = APIRouter()
liaison_page = roles("liaison")
CHINA = timezone(timedelta(hours=8))
INBOX_LIMIT = 500
"""The inbox lists at most this many open cases (issue 17: 500 open render under 300 ms)."""
INBOX_PAGE = 100
"""Rows shown at first, and added by 显示更多: 500 rows are ~300 KB of HTML that a browser
lays out in ~150 ms (bench/bench_pages.py); the nearest deadlines come first anyway."""
AMBER = 0.25
"""A countdown turns amber when less than this share of its budget is left."""
CaseId = Annotated[str, Path(max_length=64)]


def shown_count(value: str | None) -> int:
    """How many inbox rows to show (``?shown=``): a multiple of ``INBOX_PAGE`` up to
    ``INBOX_LIMIT``; anything else (a hand-edited link) shows the first page."""
    count = int(value) if value and value.isdigit() else INBOX_PAGE
    return min(max(INBOX_PAGE, count - count % INBOX_PAGE), INBOX_LIMIT)


DISPUTE_REASONS: tuple[str, ...] = get_args(DisputeReason)
CONTACT_CHANNELS: tuple[str, ...] = get_args(ContactChannel)
OUTCOMES: tuple[str, ...] = get_args(ResolutionOutcome)


@dataclass(frozen=True)
class Action:
    """A form of the work page: its command and the form fields it takes."""

    name: str
    command: type[Command]
    fields: tuple[str, ...]
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
        Action("progress", commands.ReportProgress, ("note",)),
        Action("complete", commands.ReportCompletion, ("summary",)),
        Action("resolve", commands.ResolveCase, ("outcome", "summary"), department=False),
        Action("extension", commands.RequestExtension, ("clock", "until", "reason")),
    )
}


# --- reads -------------------------------------------------------------------------------


def _services(page: Page) -> Services:
    services: Services = page.request.app.state.services
    return services


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
    read = _services(page).read
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


async def case_of(page: Page, case_id: str) -> Row:
    """The case with its assignments, clocks and joint actions, if the liaison may see it
    (otherwise the 404 page, as the API answers 404)."""
    case = await _services(page).read.case(case_id)
    if case is None or not visible(page.principal, case):
        raise PageError(404, "no_such_case", case_id=case_id)
    return case


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
    """The case's work page: its clocks, assignments, joint actions, the log, every form."""
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
    timeline = await _services(page).read.timeline(case_id)
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


def _values(page: FormPage, action: Action) -> dict[str, Any]:
    """The command's fields from the form: empty ones left out (the command's own defaults
    and rules apply), the departments of a joint action as a list, times as China time."""
    out: dict[str, Any] = {}
    for name in action.fields:
        if name == "departments":
            picked = [str(v) for v in page.form.getlist(name) if isinstance(v, str) and v]
            if picked:
                out[name] = picked
            continue
        value = page.value(name)
        if not value:
            continue
        if name in ("at", "until"):
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                out[name] = value  # the command's validation says what is wrong
                continue
            out[name] = when if when.tzinfo else when.replace(tzinfo=CHINA)
        else:
            out[name] = value
    if action.department:
        out["department"] = page.principal.department
    return out


async def _act(page: FormPage, case_id: str, action: Action) -> Response:
    """Build and send ``action``'s command; answer in place (htmx) or with the whole page."""
    services = _services(page)
    before = await case_of(page, case_id)  # 404 page outside the liaison's scope
    principal = page.principal
    shown = {k: page.value(k) for k in action.fields}
    try:
        command = action.command(
            command_id=command_id_for(principal, case_id, action.command, None),
            case_id=case_id,
            actor=principal.actor(),
            **_values(page, action),
        )
    except ValidationError as exc:
        errors = {e.field.split(".")[0] or "form": e.message
                  for e in field_errors(list(exc.errors()), page.lang)}  # fmt: skip
        return await _refused(page, case_id, action, errors, shown, 422)
    try:
        decision = await services.bus.submit(command, case_id, command.command_id)
    except DecisionTimeout:
        pending = {"form": page.t("decision_pending")}
        return await _refused(page, case_id, action, pending, shown, 202)
    if decision.status == "rejected":
        code = decision.code or "rejected"
        message = rejection_text(code, decision.params, page.lang) or decision.message or code
        return await _refused(page, case_id, action, {"form": message}, shown, 409)
    if decision.events:
        await _projected(services, case_id, int(before.get("applied_seq") or 0))
    if action.name == "acknowledge" and page.value("from") == "inbox":
        rows = shown_count(page.value("shown"))
        return redirect(page, f"/liaison?signed={case_id}&shown={rows}#case-{case_id}")
    return redirect(page, f"/liaison/cases/{case_id}?done={action.name}#act-{action.name}")


async def _refused(
    page: FormPage,
    case_id: str,
    action: Action,
    errors: dict[str, str],
    values: dict[str, str],
    status: int,
) -> Response:
    if action.name == "acknowledge" and page.value("from") == "inbox":
        rows = await inbox_rows(page)
        count = shown_count(page.value("shown"))
        return render(page, "liaison_inbox.html", status, rows=rows[:count], total=len(rows),
                      shown=count, signed=None,
                      errors={case_id: errors.get("form", "")},
                      department=department_name(page.principal.department, page.lang))  # fmt: skip
    return await _work_page(page, case_id, {action.name: errors}, {action.name: values}, status)


async def _projected(services: Services, case_id: str, seq: int, wait_s: float = 3.0) -> None:
    """Wait (bounded) until the read model shows the case past ``seq``, so the page the
    browser is sent to shows what was just done."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while asyncio.get_running_loop().time() < deadline:
        row = await services.read.case(case_id)
        if row is not None and int(row.get("applied_seq") or 0) > seq:
            return
        await asyncio.sleep(0.05)


def _action_route(action: Action) -> None:
    async def handler(
        case_id: CaseId, page: Annotated[FormPage, Depends(form(liaison_page))]
    ) -> Response:
        return await _act(page, case_id, action)

    handler.__doc__ = f"{action.command.__name__} from the liaison's page."
    router.add_api_route(
        f"/liaison/cases/{{case_id}}/{action.name}",
        handler,
        methods=["POST"],
        include_in_schema=False,
        response_class=HTMLResponse,
        name=f"liaison_{action.name.replace('-', '_')}",
    )


for _action in ACTIONS.values():
    _action_route(_action)
