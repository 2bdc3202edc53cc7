"""What-if over HTTP: the admin page's preview of a proposal against the past, before publish.

``POST /v1/config/whatif`` replays the cases raised in a range under a stored version or under
proposed documents of one or several kinds (routing rules and SLA policies at once, say), put
in place together in a base version (each as ``…/diff`` takes it), and answers the comparison
(``whistle.whatif.answer``) as JSON, or the HTML report with ``?format=html``. Admins and
config admins; a config admin's documents are checked against its district as a publish would
be (403 outside it).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from whistle.api.config_routes import CONFIG_ROLES, _district, _service
from whistle.api.deps import CurrentPrincipal, CurrentServices, require_role
from whistle.api.problems import FieldError, ProblemError, problem_responses, request_lang
from whistle.config.versions import ConfigVersion, Kind, KindInvalid
from whistle.whatif.proposal import BadProposal, proposed_version

router = APIRouter(tags=["configuration"])

MAX_DAYS = 400
"""The longest range one request may replay (a year and some)."""
PROCESSES = 2
"""Replay processes a request uses (the API host's cores are shared with the service)."""


class ChangeIn(BaseModel):
    """One kind's whole proposed document."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    document: Any


class WhatIfIn(BaseModel):
    """The range, and the proposal: a stored ``version`` or ``changes`` to a base version."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime = Field(description="Cases raised from (inclusive).")
    until: AwareDatetime = Field(description="Cases raised before (exclusive).")
    version: int | None = Field(default=None, ge=1, description="A stored version to replay.")
    changes: list[ChangeIn] = Field(
        default_factory=list,
        max_length=6,
        description="Whole documents of one or several kinds, put in place together.",
    )
    base_version: int | None = Field(
        default=None, ge=1, description="The version the changes apply to (default: latest)."
    )


WORDS = {
    "range": ("须早于 until，且不超过 {days} 天", "must be before until, at most {days} days"),
    "proposal": ("须给出 version 或 changes 之一", "give either version or changes"),
}


def _say(key: str, lang: str, **values: object) -> str:
    zh, en = WORDS[key]
    return (en if lang == "en" else zh).format(**values)


def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError(422, "validation", errors=[FieldError(field=field, message=message)])


def _version(body: WhatIfIn, request: Request, principal: Any, services: Any) -> ConfigVersion:
    service = _service(services)
    history = service.follower.history
    lang = request_lang(request)
    if (body.version is None) == (not body.changes):
        raise _invalid("version", _say("proposal", lang))
    number = body.version or body.base_version
    base = history.last if number is None else history.get(number)
    if base is None:
        raise ProblemError(
            404, "not_found", detail_key="no_config_version", detail_values={"version": number}
        )
    if body.version is not None:
        return base
    changes = [(c.kind, c.document) for c in body.changes]
    try:  # shape and district of the changes together, as a publish checks them
        run = service.dry_run_all(changes, _district(principal))
    except KindInvalid as exc:
        raise _invalid("changes", f"{exc.kind}: {str(exc.error).splitlines()[0][:500]}") from None
    if run.outside:
        raise ProblemError(
            403,
            "forbidden_role",
            detail_key="out_of_scope",
            detail_values={"what": ", ".join(run.outside)},
        )
    try:
        return proposed_version(changes, base, body.since)
    except BadProposal as exc:
        raise _invalid("changes", str(exc.values.get("why", exc.key))) from None


@router.post(
    "/v1/config/whatif",
    summary="What-if: replay a range of the past under a proposed configuration",
    responses=problem_responses(401, 403, 404, 422, 503),
    operation_id="whatIfConfig",
)
async def what_if(
    body: WhatIfIn,
    request: Request,
    principal: CurrentPrincipal,
    services: CurrentServices,
    format: Literal["json", "html"] = Query(default="json", description="json or html"),
) -> Any:
    """Both sides side by side for the cases raised in [since, until): 三率, score, breaches
    and escalations by department, community, street, district and category; the cases whose
    departments change, with their rules; each department's weekly load; the clocks that end
    differently; assignments rerouted to departments that never saw the case."""
    require_role(principal, CONFIG_ROLES)
    lang = request_lang(request)
    span = body.until - body.since
    if span.total_seconds() <= 0 or span.days > MAX_DAYS:
        raise _invalid("until", _say("range", lang, days=MAX_DAYS))
    version = _version(body, request, principal, services)
    follower = _service(services).follower
    from whistle.whatif.run import run_whatif

    result = await asyncio.to_thread(
        run_whatif, follower.settings, version, body.since, body.until, None, PROCESSES, None,
        follower.history,
    )  # fmt: skip
    if format == "html":
        from whistle.whatif.report import html_report, names

        return HTMLResponse(html_report(result, lang, names(version.document, lang)))
    return result
