"""The community secretary's pages (社区书记, on her phone): raise a whistle, her community's
cases with their nearest deadline, a case's timeline and sign-for status, and the community's
own steps on it (回访 callback, 重开 reopen, 晒事 publish).

Every page reads through the read gateway with ``Scope.of(principal)`` and every form builds
the same domain command as the API (``whistle.api.commands.build``) and submits it on the
same bus: a refusal reads exactly as the API's (``rejections.render``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from whistle.api.cases import SEES_REQUESTER, mask_requester
from whistle.api.commands import build, new_case_id, new_command_id, roles_for
from whistle.api.deps import visible
from whistle.api.open311 import get_rules
from whistle.api.problems import ProblemError
from whistle.api.similar import WHY_TEXT
from whistle.bus import DecisionTimeout
from whistle.domain import commands
from whistle.domain.areas import Area, Department, load_areas, load_departments, within
from whistle.domain.base import Command
from whistle.domain.rejections import render as render_rejection
from whistle.domain.routing import Category
from whistle.domain.steps.attach import MAX_PHOTOS
from whistle.domain.steps.merge import MergeDuplicate
from whistle.domain.types import FINAL_STATUSES, CallbackFault, Urgency
from whistle.read.scope import NOBODY, CaseFilters, Row, Scope
from whistle.read.similarity import Text, rank
from whistle.web.messages import PAGES
from whistle.web.pages import FormPage, Page, PageError, form, redirect, render, roles
from whistle.web.photo_forms import attach_command, case_photos, store_sent

router = APIRouter()
CHINA = timezone(timedelta(hours=8))
URGENCIES: tuple[str, ...] = get_args(Urgency)
FAULTS: tuple[str, ...] = get_args(CallbackFault)
raiser_page = roles(*roles_for(commands.RaiseWhistle))
case_reader = roles("secretary", "supervisor", "admin")
case_party = roles("secretary", "liaison", "supervisor", "admin")
"""Who may see a case's photos: its parties (the liaisons of its assigned departments too)."""
LIST_LIMIT = 50


# ---- the configuration in force ---------------------------------------------------------
def _areas(page: Page) -> dict[str, Area]:
    config = getattr(page.request.app.state.services, "config", None)
    return config.current().document.areas if config is not None else load_areas()


def _departments(page: Page) -> dict[str, Department]:
    config = getattr(page.request.app.state.services, "config", None)
    return config.current().document.departments if config is not None else load_departments()


def _categories(page: Page) -> dict[str, Category]:
    return get_rules(page.request).categories


def category_groups(
    categories: dict[str, Category],
) -> list[tuple[str, list[tuple[str, Category]]]]:
    """Categories under their group (as Open311 ``services.json`` lists them), groups in order."""
    groups: dict[str, list[tuple[str, Category]]] = {}
    for code, category in sorted(categories.items(), key=lambda kv: (kv[1].group, kv[1].name)):
        groups.setdefault(category.group, []).append((code, category))
    return sorted(groups.items())


def area_name(page: Page, areas: dict[str, Area], code: str | None) -> str:
    """An area's name in the visitor's language (its code when unknown)."""
    area = areas.get(code or "")
    if area is None:
        return code or ""
    return area.name_en if page.lang == "en" else area.name_zh


def department_name(page: Page, departments: dict[str, Department], code: str | None) -> str:
    """A department's name in the visitor's language (its code when unknown)."""
    found = departments.get(code or "")
    if found is None:
        return code or ""
    return found.name_en if page.lang == "en" else found.name_zh


def communities_for(page: Page, areas: dict[str, Area]) -> list[Area]:
    """The communities (and villages) the visitor may raise a whistle in."""
    mine = page.principal.area
    return [
        a
        for a in sorted(areas.values(), key=lambda a: a.code)
        if a.kind in ("community", "village")
        and (page.principal.role == "admin" or within(a.code, mine or NOBODY))
    ]


# ---- submitting a command -----------------------------------------------------------------
async def submit(page: Page, command: Command) -> str | None:
    """Send ``command`` on the bus as the API does: None when accepted (or still pending),
    else the decider's rejection in the visitor's language."""
    bus = page.request.app.state.services.bus
    try:
        decision = await bus.submit(command, command.case_id, command.command_id)
    except DecisionTimeout:
        return None  # the case page shows it once applied
    if decision.status != "rejected":
        return None
    code = decision.code or "rejected"
    shown = render_rejection(code, decision.params, page.lang)
    return shown or decision.message or code


def build_or_errors(
    page: Page, command: type[Command], **values: Any
) -> tuple[Command | None, dict[str, str]]:
    """The command, or its validation errors by field in the visitor's language."""
    try:
        return build(command, page.lang, **values), {}
    except ProblemError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors or ():
            name = error.field.split(".")[0] or "address"  # "": the address-or-location rule
            name = {"location": "address", "requester": "requester_name"}.get(name, name)
            if name == "requester_name" and error.field.endswith("phone"):
                name = "requester_phone"
            errors.setdefault(name, error.message)
        return None, errors


# ---- raise a whistle ---------------------------------------------------------------------
def _form_context(page: Page, values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    areas = _areas(page)
    communities = communities_for(page, areas)
    chosen = values.get("community") or (communities[0].code if communities else "")
    beneath = [a for a in sorted(areas.values(), key=lambda a: a.code) if within(a.code, chosen)]
    return {
        "values": values,
        "errors": errors,
        "groups": category_groups(_categories(page)),
        "communities": [(a.code, area_name(page, areas, a.code)) for a in communities],
        "community": chosen,
        "compounds": [
            (a.code, area_name(page, areas, a.code)) for a in beneath if a.kind == "compound"
        ],
        "grids": [(a.code, area_name(page, areas, a.code)) for a in beneath if a.kind == "grid"],
        "urgencies": URGENCIES,
        "refused": None,
        "max_photos": MAX_PHOTOS,
        "duplicates": None,
    }


@router.get("/whistle", response_class=HTMLResponse, include_in_schema=False)
async def whistle_form(page: Annotated[Page, Depends(raiser_page)]) -> Response:
    """The whistle form: category by group, where, urgency, the resident."""
    values = {"urgency": "general", "community": page.request.query_params.get("community", "")}
    return render(page, "whistle_new.html", **_form_context(page, values, {}))


FORM_FIELDS = (
    "category", "community", "compound", "grid", "address", "lat", "lon", "urgency",
    "title", "description", "requester_name", "requester_phone",
)  # fmt: skip
DUPLICATES_SHOWN = 5


def _draft_community(page: Page, values: dict[str, str]) -> str:
    """The community the draft is for, when the visitor may raise there ("" otherwise)."""
    community = values.get("community") or (
        (page.principal.area or "") if page.principal.role == "secretary" else ""
    )
    allowed = {a.code for a in communities_for(page, _areas(page))}
    return community if community in allowed else ""


async def likely_duplicates(page: Page, values: dict[str, str]) -> list[dict[str, Any]]:
    """Open cases of the draft's community from the last 14 days that look like the same
    problem: what ``POST /v1/whistles/similar`` answers (the same candidates and scorer)."""
    community = _draft_community(page, values)
    if not community or not any(values.get(k) for k in ("title", "description", "address")):
        return []
    location = None
    try:
        if values.get("lat") and values.get("lon"):
            location = (float(values["lat"]), float(values["lon"]))
    except ValueError:
        location = None
    services = page.request.app.state.services
    rows = await services.read.similar_candidates(
        Scope.of(page.principal), community, datetime.now(UTC)
    )
    draft = Text.of(
        values.get("title"),
        values.get("description"),
        values.get("address") or None,
        values.get("category") or None,
        location,
    )
    departments = _departments(page)
    lang = 0 if page.lang == "zh" else 1
    return [
        {
            "case_id": row["case_id"],
            "title": row.get("title") or "",
            "status": status_words(page, row),
            "lead": department_name(page, departments, row.get("lead_department")),
            "raised": shown_time(row.get("raised_at")),
            "ago": _ago(page, row.get("raised_at")),
            "why": ("、" if lang == 0 else ", ").join(WHY_TEXT[w][lang] for w in like.why),
        }
        for row, like in rank(draft, rows, DUPLICATES_SHOWN)
    ]


def _ago(page: Page, value: Any) -> str:
    if not value:
        return ""
    days = (datetime.now(UTC) - _instant(value)).days
    return page.t("days_ago", days=days) if days else page.t("today")


@router.post("/whistle/similar", response_class=HTMLResponse, include_in_schema=False)
async def similar_whistles(page: Annotated[FormPage, Depends(form(raiser_page))]) -> Response:
    """Likely duplicates of the draft: the list alone for htmx, else the form with it (the
    button works without JavaScript; the draft's fields are kept, its photos are not)."""
    values = {k: page.value(k) for k in FORM_FIELDS}
    found = await likely_duplicates(page, values)
    if page.request.headers.get("hx-request") == "true":
        return render(page, "_duplicates.html", duplicates=found)
    context = _form_context(page, values, {}) | {"duplicates": found}
    return render(page, "whistle_new.html", **context)


@router.post("/whistle", response_class=HTMLResponse, include_in_schema=False)
async def raise_whistle(page: Annotated[FormPage, Depends(form(raiser_page))]) -> Response:
    """Raise the whistle: on success to the case page, else the form with errors beside."""
    values = {k: page.value(k) for k in FORM_FIELDS}
    errors: dict[str, str] = {}
    areas = _areas(page)
    if values["category"] not in _categories(page):
        errors["category"] = page.t("pick_category")
    allowed = {a.code for a in communities_for(page, areas)}
    community = values["community"] or (
        (page.principal.area or "") if page.principal.role == "secretary" else ""
    )
    if community not in allowed:
        errors["community"] = page.t("pick_community")
    for name in ("compound", "grid"):
        code = values[name]
        if code and (code not in areas or not within(code, community)):
            errors[name] = page.t("not_in_community")
    location = None
    if values["lat"] or values["lon"]:
        try:
            location = {"lat": float(values["lat"]), "lon": float(values["lon"])}
        except ValueError:
            errors["address"] = page.t("bad_location")
    if not values["address"] and not (values["lat"] or values["lon"]):
        errors["address"] = page.t("need_address")  # the command's rule, shown with the others
    requester = {
        k: v
        for k, v in (("name", values["requester_name"]), ("phone", values["requester_phone"]))
        if v
    }
    command, field_errors = build_or_errors(
        page,
        commands.RaiseWhistle,
        command_id=new_command_id(),
        case_id=new_case_id(),
        actor=page.principal.actor(),
        community=community or "x",
        compound=values["compound"] or None,
        grid=values["grid"] or None,
        category=values["category"] or "x",
        title=values["title"],
        description=values["description"],
        urgency=values["urgency"],
        address=values["address"] or None,
        location=location,
        requester=requester or None,
    )
    errors = field_errors | errors
    join = page.value("join")
    if join and not await _joinable(page, join):
        errors["join"] = page.t("join_gone", case_id=join)
    photos: tuple[Any, ...] = ()
    if command is not None and not errors:
        photos, photo_error = await store_sent(page)
        if photo_error:
            errors["photos"] = photo_error
    if command is None or errors:
        context = _form_context(page, values | {"community": community}, errors)
        if join and "join" in errors:
            context["duplicates"] = await likely_duplicates(page, values)
        return render(page, "whistle_new.html", 422, **context)
    refused = await submit(page, command)
    if refused is not None:
        context = _form_context(page, values, {}) | {"refused": refused}
        return render(page, "whistle_new.html", 409, **context)
    if photos:
        await submit(page, attach_command(page, command.case_id, "raise", photos))
    if join:
        # "the same problem": the resident's report is kept (as a case closed as the
        # original's duplicate, its photos with it) and told on the original's timeline
        merge = MergeDuplicate(
            command_id=new_command_id(),
            case_id=command.case_id,
            actor=page.principal.actor(),
            original_case_id=join,
            note=page.t("joined_note"),
        )
        merge_refused = await submit(page, merge)
        if merge_refused is not None:
            return redirect(page, f"/cases/{command.case_id}?raised=1")
        return redirect(page, f"/cases/{join}?joined={command.case_id}")
    return redirect(page, f"/cases/{command.case_id}?raised=1")


async def _joinable(page: Page, case_id: str) -> bool:
    """Whether the visitor may join ``case_id``: an open case in her scope."""
    case = await page.request.app.state.services.read.case(case_id)
    return (
        case is not None
        and visible(page.principal, case)
        and case.get("status") not in FINAL_STATUSES
    )


# ---- her community's cases ---------------------------------------------------------------
def nearest_clock(case: Row | None) -> Row | None:
    """The running (or paused) clock due soonest."""
    running = [
        k for k in (case or {}).get("clocks") or () if k.get("status") in ("running", "paused")
    ]
    running = [k for k in running if k.get("due_at")]
    return min(running, key=lambda k: str(k["due_at"])) if running else None


def remaining(page: Page, clock: Row | None) -> dict[str, Any] | None:
    """The countdown of ``clock`` as words, and whether it is breached."""
    if clock is None:
        return None
    due = _instant(clock["due_at"])
    seconds = int((due - datetime.now(UTC)).total_seconds())
    late = seconds < 0
    minutes = abs(seconds) // 60
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        span = page.t("span_days", days=days, hours=hours)
    elif hours:
        span = page.t("span_hours", hours=hours, minutes=mins)
    else:
        span = page.t("span_minutes", minutes=mins)
    words = page.t("overdue_by", span=span) if late else page.t("due_in", span=span)
    return {
        "words": words,
        "late": late or bool(clock.get("breached")),
        "due": due.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
        "iso": due.isoformat(),
        "clock": page.t(key) if (key := f"clock_{clock.get('clock')}") in PAGES else "",
    }


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def shown_time(value: Any) -> str:
    """An instant in Asia/Shanghai, 24-hour."""
    return _instant(value).astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else ""


def status_words(page: Page, case: Row) -> str:
    """The case's status as she says it (已派单, 已签收, 办理中, 已办结, 待回访, 已重开…)."""
    status = case.get("status") or ""
    if status == "routed":
        acknowledged = [a for a in case.get("assignments") or () if a.get("acknowledged_at")]
        status = "acknowledged" if acknowledged else "routed"
    if status == "in_progress" and case.get("reopen_count"):
        status = "reopened"
    if status == "resolved" and not case.get("callback_count"):
        status = "awaiting_callback"
    key = f"status_{status}"
    return page.t(key) if key in PAGES else status


@router.get("/cases", response_class=HTMLResponse, include_in_schema=False)
async def cases_page(page: Annotated[Page, Depends(case_reader)]) -> Response:
    """The cases in the visitor's scope, newest first, each with its nearest deadline."""
    services = page.request.app.state.services
    rows = await services.read.cases(Scope.of(page.principal), CaseFilters(limit=LIST_LIMIT))
    clocks = await services.read.deadlines([r["case_id"] for r in rows])
    # only 已派单 vs 已签收 needs a case's assignments; the rest is in the listed row
    routed = [r["case_id"] for r in rows if r.get("status") == "routed"]
    details = dict(zip(routed, await asyncio.gather(*map(services.read.case, routed)), strict=True))
    departments = _departments(page)
    items = [
        {
            "case_id": row["case_id"],
            "title": row.get("title"),
            "status": status_words(page, details.get(row["case_id"]) or row),
            "lead": department_name(page, departments, row.get("lead_department")),
            "raised": shown_time(row.get("raised_at")),
            "deadline": remaining(page, nearest_clock({"clocks": clocks.get(row["case_id"])})),
        }
        for row in rows
    ]
    partial = page.request.headers.get("hx-request") == "true"
    return render(page, "cases_list.html" if partial else "cases.html", items=items)


# ---- one case ----------------------------------------------------------------------------
async def _case_context(page: Page, case_id: str) -> dict[str, Any]:
    services = page.request.app.state.services
    case = await services.read.case(case_id)
    found = await services.read.case_timeline(case_id)
    if case is None or found is None or not visible(page.principal, case):
        raise PageError(404, "no_such_case", case_id=case_id)
    events = found[1]
    if page.principal.role not in SEES_REQUESTER:
        events = [mask_requester(e) for e in events]
    departments = _departments(page)
    areas = _areas(page)
    raised = events[0].get("body") if events else {}
    signs = [
        {
            "department": department_name(page, departments, a.get("department")),
            "role": page.t("role_lead" if a.get("role") == "lead" else "role_supporting"),
            "state": page.t(_sign_state(a)),
            "signed": bool(a.get("acknowledged_at")),
            "at": shown_time(a.get("acknowledged_at")),
            "due": shown_time(a.get("ack_due_at")),
        }
        for a in case.get("assignments") or ()
    ]
    timeline = [
        {
            "at": shown_time(e.get("occurred_at")),
            "what": _event_words(page, e.get("type") or ""),
            "who": department_name(page, departments, e.get("actor_department"))
            or e.get("actor_user_id")
            or "",
            "note": _event_note(e.get("body") or {}),
        }
        for e in events
    ]
    return {
        "case": case,
        "case_id": case_id,
        "case_status": status_words(page, case),
        "where": area_name(page, areas, case.get("area")),
        "raised": raised or {},
        "lead": department_name(page, departments, case.get("lead_department")),
        "deadline": remaining(page, nearest_clock(case)),
        "signs": signs,
        "timeline": timeline,
        "joint_actions": case.get("joint_actions") or [],
        "photos": case_photos(page, case),
        "faults": FAULTS,
        "can_act": page.principal.role in ("secretary", "admin", "supervisor"),
        "shown_time": shown_time,
        "category": _category_name(page, case.get("category")),
        "form_name": "",
        "refused": None,
    }


def _category_name(page: Page, code: str | None) -> str:
    found = _categories(page).get(code or "")
    return found.name if found else code or ""


def _sign_state(assignment: Row) -> str:
    if assignment.get("released_at") or not assignment.get("active", True):
        return "sign_released"
    if assignment.get("disputed"):
        return "sign_disputed"
    if assignment.get("completed_at"):
        return "sign_completed"
    return "sign_signed" if assignment.get("acknowledged_at") else "sign_waiting"


def _event_words(page: Page, kind: str) -> str:
    key = f"event_{kind}"
    return page.t(key) if key in PAGES else kind


def _event_note(body: Row) -> str:
    for name in ("summary", "reason", "note", "comment", "text", "title"):
        if isinstance(body.get(name), str) and body[name]:
            return str(body[name])
    return ""


@router.get("/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
async def case_page(case_id: str, page: Annotated[Page, Depends(case_reader)]) -> Response:
    """The case: status, where, the lead and its deadline, sign-for by department, timeline."""
    context = await _case_context(page, case_id)
    query = page.request.query_params
    context |= {
        "just_raised": query.get("raised") == "1",
        "done": bool(query.get("done")),
        "joined": query.get("joined") or "",
    }
    return render(page, "case.html", errors={}, values={}, **context)


async def _case_step(
    page: FormPage, case_id: str, command: type[Command], **values: Any
) -> Response:
    context = await _case_context(page, case_id)  # 404 outside the visitor's scope
    if page.principal.role not in roles_for(command):
        raise PageError(403, "forbidden_role", role=page.t(f"role_{page.principal.role}"))
    built, errors = build_or_errors(
        page,
        command,
        command_id=new_command_id(),
        case_id=case_id,
        actor=page.principal.actor(),
        **values,
    )
    context |= {"form_name": command.__name__, "just_raised": False, "done": False, "joined": ""}
    sent = {k: page.value(k) for k in page.form}
    if built is None:
        return render(page, "case.html", 422, errors=errors, values=sent, **context)
    refused = await submit(page, built)
    if refused is not None:
        context["refused"] = refused
        return render(page, "case.html", 409, errors={}, values=sent, **context)
    return redirect(page, f"/cases/{case_id}?done={command.__name__}")


def _yes(page: FormPage, name: str) -> bool | None:
    return {"yes": True, "no": False}.get(page.value(name))


@router.post("/cases/{case_id}/callback", response_class=HTMLResponse, include_in_schema=False)
async def callback(case_id: str, page: Annotated[FormPage, Depends(form(case_reader))]) -> Response:
    """回访: solved? satisfied? a score 1–5, a comment, whose fault."""
    score = page.value("score")
    return await _case_step(
        page,
        case_id,
        commands.RecordCallback,
        solved=_yes(page, "solved"),
        satisfied=_yes(page, "satisfied"),
        score=int(score) if score.isdigit() else None,
        comment=page.value("comment"),
        fault=page.value("fault") or "none",
    )


@router.post("/cases/{case_id}/reopen", response_class=HTMLResponse, include_in_schema=False)
async def reopen(case_id: str, page: Annotated[FormPage, Depends(form(case_reader))]) -> Response:
    """重开: the resident is not satisfied through the department's fault."""
    return await _case_step(page, case_id, commands.ReopenCase, reason=page.value("reason"))


@router.post("/cases/{case_id}/publish", response_class=HTMLResponse, include_in_schema=False)
async def publish(case_id: str, page: Annotated[FormPage, Depends(form(case_reader))]) -> Response:
    """晒事: a short public summary of the result, and its after photos (shown to the public
    as copies without location: ``/v1/public/cases/{id}/photos/{sha256}``)."""
    photos, photo_error = await store_sent(page)
    if photo_error:
        context = await _case_context(page, case_id)
        context |= {"form_name": "PublishCase", "just_raised": False, "done": False, "joined": ""}
        sent = {k: page.value(k) for k in page.form}
        errors = {"photos": photo_error}
        return render(page, "case.html", 422, errors=errors, values=sent, **context)
    answer = await _case_step(page, case_id, commands.PublishCase, summary=page.value("summary"))
    if photos and answer.status_code == 303:
        await submit(page, attach_command(page, case_id, "publish", photos))
    return answer


@router.get("/cases/{case_id}/photos/{sha256}", response_class=Response, include_in_schema=False)
async def case_photo_thumbnail(
    case_id: str, sha256: str, page: Annotated[Page, Depends(case_party)]
) -> Response:
    """A photo of a case the visitor sees, as its thumbnail (no metadata): the case pages'
    pictures, the secretary's and the liaison's (the API's thumbnail route takes a bearer
    token, a page a session). The scope is the case's: its community's secretary, its
    assigned departments' liaisons, the supervisors over its area, admins."""
    services = page.request.app.state.services
    case = await services.read.case(case_id)
    if case is None or not visible(page.principal, case):
        raise PageError(404, "no_such_case", case_id=case_id)
    library = getattr(services, "photos", None)
    held = any(a.get("sha256") == sha256 for a in case.get("attachments") or ())
    found = await library.thumbnail(sha256) if held and library is not None else None
    if found is None:
        raise PageError(404, "photo_not_found")
    data, kind = found
    return Response(data, media_type=kind, headers={"Cache-Control": "private, max-age=86400"})
