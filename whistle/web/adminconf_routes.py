"""The admin's configuration pages on the living-configuration API: the version in force of
each kind (areas, departments, categories, routing rules, SLA policies, calendars), a draft
of one or several kinds' whole documents, its diff preview and findings against the latest
version, the what-if of all the drafts together over a chosen range (#19), and publish.

The drafts travel in the form (one text area ``document_<kind>`` per kind drafted; "add a
draft of…" puts another kind's latest document beside them, "remove" drops one): nothing is
stored until it is published, and the drafts are published together as one version. Every
step calls what the API routes call: ``ConfigService.dry_run_all`` / ``publish``
(``whistle.api.config_routes``) and the what-if's ``_version`` + ``run_whatif``
(``whistle.api.whatif_routes``), so validation is not repeated.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from whistle.api.problems import ProblemError
from whistle.api.whatif_routes import MAX_DAYS, PROCESSES, ChangeIn, WhatIfIn, _version
from whistle.config.follower import PublishRefused
from whistle.config.service import Changes, ConfigService, DryRun, Invalid, Publisher, Refused
from whistle.config.versions import KINDS, Kind, KindInvalid, changed_kinds, kind_document
from whistle.web.config_diff import diff_lines
from whistle.web.pages import FormPage, Page, PageError, form, redirect, render, roles
from whistle.whatif.report import names

REFUSALS = {
    "stale": "refused_stale",
    "backdated": "refused_backdated",
    "outside_scope": "refused_outside_scope",
    "no_change": "refused_no_change",
}
"""The catalogue's words for each reason ``ConfigService.publish`` refuses with."""

CLOCK_STATUSES = ("met", "breached", "running", "paused", "released", "stopped", "absent")
"""How a clock of the what-if ends (the read model's statuses, and absent on one side)."""

router = APIRouter()
admin_page = roles("admin")
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
        versions=versions[:20], published=page.request.query_params.get("published"),
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
    )


def _texts(page: FormPage) -> dict[Kind, str]:
    """The drafts in the form, by kind, in the kinds' order (a kind's field named
    ``document_<kind>``; other fields are not drafts)."""
    return {k: page.value(f"document_{k}") for k in KINDS if f"document_{k}" in page.form}


def _shape(page: FormPage, kind: Kind, error: ValueError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return page.t("bad_shape", where=where or kind, why=first.get("msg", ""))
    return page.t("bad_shape", where=kind, why=str(error)[:300])


def _drafts(
    page: FormPage, texts: dict[Kind, str]
) -> tuple[Changes, DryRun | None, dict[str, str]]:
    """The drafts' documents, their dry run together (None when one does not parse or is not
    of its kind's shape) and the errors, each beside its draft's field."""
    changes: list[tuple[Kind, Any]] = []
    errors: dict[str, str] = {}
    for kind, text in texts.items():
        try:
            changes.append((kind, json.loads(text)))
        except json.JSONDecodeError as exc:
            errors[f"document_{kind}"] = page.t("bad_json", line=exc.lineno, why=exc.msg)
    if errors or not changes:
        return changes, None, errors
    try:
        return changes, _service(page).dry_run_all(changes), {}
    except KindInvalid as exc:
        return changes, None, {f"document_{exc.kind}": _shape(page, exc.kind, exc.error)}


def _required(page: FormPage, texts: dict[Kind, str]) -> dict[str, str]:
    """A what-if or publish needs at least one draft: the error beside "add a draft"."""
    return {} if texts else {"add_kind": page.t("no_drafts")}


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
    page: FormPage,
    texts: dict[Kind, str],
    run: DryRun | None,
    errors: dict[str, str],
    status: int = 200,
    whatif: Any = None,
) -> Response:
    """The drafts page: every draft beside its error, their diff and findings together, the
    what-if's range and answer, and publish."""
    findings = [] if run is None else [(f.where, f.message(page.lang)) for f in run.findings]
    changed = () if run is None else changed_kinds(run.base.document, run.proposed)
    values = {name: page.value(name) for name in ("since", "until", "reason")}
    return render(
        page,
        "adminconf_preview.html",
        status,
        drafts=list(texts.items()),
        addable=[k for k in KINDS if k not in texts],
        errors=errors,
        findings=findings,
        changes=None if run is None else diff_lines(page, run.diff, run.proposed),
        changed=changed,
        base_version=(run.base.version if run else _service(page).latest().version),
        values=values,
        whatif=whatif,
        clock_words={s: page.t(f"clock_status_{s}") for s in CLOCK_STATUSES},
        names=names(run.proposed if run else _service(page).latest().document, page.lang),
    )


@router.post("/admin/config/draft/preview", response_class=HTMLResponse, include_in_schema=False)
async def preview(page: Annotated[FormPage, Depends(form(admin_page))]) -> Response:
    """The drafts' diff against the latest version and their findings, before publishing;
    "add" puts another kind's latest document among the drafts, "remove" drops one."""
    texts = _texts(page)
    errors: dict[str, str] = {}
    if "add" in page.form:
        wanted = page.value("add_kind")
        if wanted not in KINDS:
            errors["add_kind"] = page.t("no_such_kind", kind=wanted)
        elif wanted not in texts:
            latest = _service(page).latest().document
            texts[_kind(wanted)] = _pretty(kind_document(latest, _kind(wanted)))
    texts = {k: texts[k] for k in KINDS if k in texts and k != page.value("remove")}
    _, run, found = _drafts(page, texts)
    errors |= found
    return _preview(page, texts, run, errors, 422 if errors else 200)


async def _whatif(page: FormPage) -> tuple[dict[Kind, str], DryRun | None, dict[str, str], Any]:
    """The what-if of every draft together over the form's range (the answer, or errors)."""
    texts = _texts(page)
    changes, run, errors = _drafts(page, texts)
    since, until, range_errors = _range(page)
    errors |= range_errors | _required(page, texts)
    if errors or run is None:
        return texts, run, errors, None
    body = WhatIfIn(
        since=since,
        until=until,
        changes=[ChangeIn(kind=kind, document=document) for kind, document in changes],
    )
    try:  # the same proposal and checks as POST /v1/config/whatif
        version = _version(body, page.request, page.principal, page.request.app.state.services)
    except ProblemError as exc:
        why = "; ".join(e.message for e in exc.errors or []) or page.t("refused_whatif")
        return texts, run, {"drafts": why}, None
    from whistle.whatif.run import run_whatif

    follower = _service(page).follower
    try:
        result = await asyncio.to_thread(
            run_whatif, follower.settings, version, since, until, None, PROCESSES, None,
            follower.history,
        )  # fmt: skip
    except KafkaError as exc:  # the log cannot be read: the error page, not the API's JSON
        raise PageError(503, "whatif_unavailable") from exc
    return texts, run, errors, result


@router.post("/admin/config/draft/whatif", response_class=HTMLResponse, include_in_schema=False)
async def whatif(page: Annotated[FormPage, Depends(form(admin_page))]) -> Response:
    """The preview, with the what-if of all the drafts together over the range: the cases
    that would move, with the rule that decided each, the clocks that would end differently,
    and the 三率 of both sides."""
    texts, run, errors, result = await _whatif(page)
    return _preview(page, texts, run, errors, 422 if errors else 200, whatif=result)


@router.post(
    "/admin/config/draft/whatif/report", response_class=HTMLResponse, include_in_schema=False
)
async def whatif_report(page: Annotated[FormPage, Depends(form(admin_page))]) -> Response:
    """The what-if's HTML report (``whistle.whatif.report``), to forward to a supervisor."""
    texts, run, errors, result = await _whatif(page)
    if result is None:
        return _preview(page, texts, run, errors, 422)
    from whistle.whatif.report import html_report

    known = names(run.proposed if run else _service(page).latest().document, page.lang)
    return HTMLResponse(html_report(result, page.lang, known))


@router.post("/admin/config/draft/publish", response_class=HTMLResponse, include_in_schema=False)
async def publish(page: Annotated[FormPage, Depends(form(admin_page))]) -> Response:
    """Publish every draft together as the next version (checked as ``POST
    /v1/config/{kind}/publish`` checks one kind)."""
    texts = _texts(page)
    changes, run, errors = _drafts(page, texts)
    errors |= _required(page, texts)
    reason = page.value("reason")
    if not reason:
        errors["reason"] = page.t("required")
    try:
        expected = int(page.value("expected_version"))
    except ValueError:
        expected = 0
    if errors or run is None:
        return _preview(page, texts, run, errors, 422)
    principal = page.principal
    try:
        version = await _service(page).publish(
            changes,
            publisher=Publisher(principal.user_id, principal.role, None),
            reason=reason[:500],
            effective_from=None,
            expected_version=expected,
        )
    except Invalid as exc:
        found = "; ".join(f"{f.where}: {f.message(page.lang)}" for f in exc.findings)
        errors["drafts"] = found
    except Refused as exc:
        errors["drafts"] = page.t(REFUSALS.get(exc.why, "refused_publish"), **exc.values)
    except PublishRefused as exc:
        errors["drafts"] = page.t("refused_stale", expected=expected, latest=exc.reason)
    else:
        return redirect(page, f"/admin/config?published={version.version}")
    return _preview(page, texts, run, errors, 422)
