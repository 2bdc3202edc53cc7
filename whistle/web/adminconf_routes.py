"""The admin's configuration pages on the living-configuration API: the version in force of
each kind (areas, departments, categories, routing rules, SLA policies, calendars), a draft
of the kind's whole document, its diff preview and findings against the latest version, the
what-if of the draft over a chosen range (#19), and publish.

The draft travels in the form (the kind's JSON document, edited in a structured text area):
nothing is stored until it is published. Every step calls what the API routes call:
``ConfigService.dry_run`` / ``publish`` (``whistle.api.config_routes``) and the what-if's
``_version`` + ``run_whatif`` (``whistle.api.whatif_routes``), so validation is not repeated.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, get_args
from zoneinfo import ZoneInfo

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from whistle.api.problems import ProblemError
from whistle.api.whatif_routes import MAX_DAYS, PROCESSES, ChangeIn, WhatIfIn, _version
from whistle.config.follower import PublishRefused
from whistle.config.service import ConfigService, DryRun, Invalid, Publisher, Refused
from whistle.config.versions import Kind, kind_document
from whistle.web.pages import FormPage, Page, PageError, form, redirect, render, roles

REFUSALS = {
    "stale": "refused_stale",
    "backdated": "refused_backdated",
    "outside_scope": "refused_outside_scope",
    "no_change": "refused_no_change",
}
"""The catalogue's words for each reason ``ConfigService.publish`` refuses with."""

router = APIRouter()
admin_page = roles("admin")
KINDS: tuple[str, ...] = get_args(Kind)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _service(page: Page) -> ConfigService:
    service: ConfigService | None = page.request.app.state.services.config
    if service is None:
        raise PageError(503, "config_unavailable")
    return service


def _kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise PageError(404, "no_such_kind", kind=kind)
    return kind  # type: ignore[return-value]  # checked against Kind's values above


def _pretty(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False, default=str)


@router.get("/admin/config", response_class=HTMLResponse, include_in_schema=False)
async def config_page(page: Annotated[Page, Depends(admin_page)]) -> Response:
    """The kinds, the version in force and the history of versions."""
    service = _service(page)
    versions = await service.list_versions()
    return render(
        page, "adminconf_index.html", kinds=KINDS, current=service.current().meta(),
        versions=versions[:20],
    )  # fmt: skip


@router.get("/admin/config/{kind}", response_class=HTMLResponse, include_in_schema=False)
async def kind_page(kind: str, page: Annotated[Page, Depends(admin_page)]) -> Response:
    """The kind's document in force and a draft of it (the latest version's) to edit."""
    known = _kind(kind)
    service = _service(page)
    current, latest = service.current(), service.latest()
    return render(
        page,
        "adminconf_kind.html",
        kind=known,
        current=current.meta(),
        in_force=_pretty(kind_document(current.document, known)),
        draft=_pretty(kind_document(latest.document, known)),
        base_version=latest.version,
        errors={},
        published=page.request.query_params.get("published"),
    )


def _draft(page: FormPage, kind: Kind) -> tuple[str, DryRun | None, dict[str, str]]:
    """The draft's text, its dry run (None when it does not parse), errors by field."""
    text = page.value("document")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return text, None, {"document": page.t("bad_json", line=exc.lineno, why=exc.msg)}
    try:
        return text, _service(page).dry_run(kind, document), {}
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        why = page.t("bad_shape", where=where or kind, why=first.get("msg", ""))
        return text, None, {"document": why}
    except ValueError as exc:
        return text, None, {"document": page.t("bad_shape", where=kind, why=str(exc)[:300])}


def _range(page: FormPage) -> tuple[datetime, datetime, dict[str, str]]:
    """The what-if's range from the form's dates (Asia/Shanghai days, until inclusive)."""
    now = datetime.now(SHANGHAI)
    errors: dict[str, str] = {}
    days: list[datetime] = []
    for name, default in (("since", now - timedelta(days=90)), ("until", now)):
        raw = page.value(name)
        try:
            day = datetime.fromisoformat(raw).date() if raw else default.date()
        except ValueError:
            errors[name] = page.t("bad_date")
            day = default.date()
        days.append(datetime(day.year, day.month, day.day, tzinfo=SHANGHAI))
    since, until = days[0], days[1] + timedelta(days=1)
    if not errors and (until <= since or (until - since).days > MAX_DAYS):
        errors["until"] = page.t("bad_range", days=MAX_DAYS)
    return since.astimezone(UTC), until.astimezone(UTC), errors


def _preview(
    page: Page,
    kind: Kind,
    text: str,
    run: DryRun | None,
    errors: dict[str, str],
    status: int = 200,
    **extra: Any,
) -> Response:
    findings = [] if run is None else [(f.where, f.message(page.lang)) for f in run.findings]
    changes = None if run is None else run.diff.model_dump(mode="json")
    service = _service(page)
    values = {"since": "", "until": "", "reason": ""} | extra.pop("values", {})
    return render(
        page,
        "adminconf_preview.html",
        status,
        kind=kind,
        draft=text,
        errors=errors,
        findings=findings,
        changes=changes,
        empty=run is not None and run.diff.empty() and run.proposed == run.base.document,
        base_version=(run.base.version if run else service.latest().version),
        in_force=_pretty(kind_document(service.current().document, kind)),
        values=values,
        whatif=extra.pop("whatif", None),
        **extra,
    )


@router.post("/admin/config/{kind}/preview", response_class=HTMLResponse, include_in_schema=False)
async def preview(kind: str, page: Annotated[FormPage, Depends(form(admin_page))]) -> Response:
    """The draft's diff against the latest version and its findings, before publishing."""
    known = _kind(kind)
    text, run, errors = _draft(page, known)
    return _preview(page, known, text, run, errors, 422 if errors else 200)


async def _whatif(page: FormPage, kind: Kind) -> tuple[str, DryRun | None, dict[str, str], Any]:
    text, run, errors = _draft(page, kind)
    since, until, range_errors = _range(page)
    errors |= range_errors
    if errors or run is None:
        return text, run, errors, None
    body = WhatIfIn(
        since=since, until=until, changes=[ChangeIn(kind=kind, document=json.loads(text))]
    )
    try:  # the same proposal and checks as POST /v1/config/whatif
        version = _version(body, page.request, page.principal, page.request.app.state.services)
    except ProblemError as exc:
        why = "; ".join(e.message for e in exc.errors or []) or page.t("refused_whatif")
        return text, run, {"document": why}, None
    from whistle.whatif.run import run_whatif

    settings = _service(page).follower.settings
    try:
        result = await asyncio.to_thread(
            run_whatif, settings, version, since, until, None, PROCESSES
        )
    except KafkaError as exc:  # the log cannot be read: the error page, not the API's JSON
        raise PageError(503, "whatif_unavailable") from exc
    return text, run, errors, result


@router.post("/admin/config/{kind}/whatif", response_class=HTMLResponse, include_in_schema=False)
async def whatif(kind: str, page: Annotated[FormPage, Depends(form(admin_page))]) -> Response:
    """The preview, with the what-if of the draft over the range: the cases that would move,
    with the rule that decided each, and the 三率 of both sides."""
    known = _kind(kind)
    text, run, errors, result = await _whatif(page, known)
    values = {"since": page.value("since"), "until": page.value("until")}
    status = 422 if errors else 200
    return _preview(page, known, text, run, errors, status, values=values, whatif=result)


@router.post(
    "/admin/config/{kind}/whatif/report", response_class=HTMLResponse, include_in_schema=False
)
async def whatif_report(
    kind: str, page: Annotated[FormPage, Depends(form(admin_page))]
) -> Response:
    """The what-if's HTML report (``whistle.whatif.report``), to forward to a supervisor."""
    known = _kind(kind)
    text, run, errors, result = await _whatif(page, known)
    if result is None:
        values = {"since": page.value("since"), "until": page.value("until")}
        return _preview(page, known, text, run, errors, 422, values=values)
    from whistle.whatif.report import html_report

    return HTMLResponse(html_report(result, page.lang))


@router.post("/admin/config/{kind}/publish", response_class=HTMLResponse, include_in_schema=False)
async def publish(kind: str, page: Annotated[FormPage, Depends(form(admin_page))]) -> Response:
    """Publish the draft as the next version (checked as ``POST /v1/config/{kind}/publish``)."""
    known = _kind(kind)
    text, run, errors = _draft(page, known)
    reason = page.value("reason")
    values = {"reason": reason}
    if not reason:
        errors["reason"] = page.t("required")
    try:
        expected = int(page.value("expected_version"))
    except ValueError:
        expected = 0
    if errors or run is None:
        return _preview(page, known, text, run, errors, 422, values=values)
    principal = page.principal
    try:
        version = await _service(page).publish(
            known,
            json.loads(text),
            publisher=Publisher(principal.user_id, principal.role, None),
            reason=reason[:500],
            effective_from=None,
            expected_version=expected,
        )
    except Invalid as exc:
        found = "; ".join(f"{f.where}: {f.message(page.lang)}" for f in exc.findings)
        errors["document"] = found
    except Refused as exc:
        errors["document"] = page.t(REFUSALS.get(exc.why, "refused_publish"), **exc.values)
    except PublishRefused as exc:
        errors["document"] = page.t("refused_stale", expected=expected, latest=exc.reason)
    else:
        return redirect(page, f"/admin/config/{known}?published={version.version}")
    return _preview(page, known, text, run, errors, 422, values=values)
