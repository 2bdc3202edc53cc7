"""The public's pages (群众, no login): 晒事, the published results by community and category,
and a status page per case id (as Open311 apps expect).

Only public fields ever reach these pages, chosen here and nowhere else (``public_case``):
the case id, its status in words, category, community (never the address, compound, grid or
coordinates), the dates raised, resolved and published (days, Asia/Shanghai), and once
published the 晒事 summary and its after photos (stage ``publish``) as the copies without
location (``/v1/public/cases/{id}/photos/{sha256}``). Never the title or description (a
secretary writes them for the departments, often with a name or a door number), the requester,
the timeline, the departments' notes or the photos of other stages.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from whistle.read.scope import CaseFilters, Row, Scope
from whistle.web.pages import Page, PageError, public_page, render
from whistle.web.secretary_routes import (
    CHINA,
    _areas,
    _categories,
    _instant,
    area_name,
    category_groups,
    status_words,
)

router = APIRouter()
PUBLIC_LIMIT = 30
PUBLIC_STAGE = "publish"
Code = Annotated[str, Query(max_length=128, pattern=r"^[a-z0-9_.]*$")]


def _day(value: Any) -> str:
    return _instant(value).astimezone(CHINA).strftime("%Y-%m-%d") if value else ""


def public_case(page: Page, case: Row, summary: str | None) -> dict[str, Any]:
    """The public fields of ``case`` (the module's docstring says which, and why)."""
    areas = _areas(page)
    published = case.get("published_at") is not None
    category = _categories(page).get(case.get("category") or "")
    photos = [
        f"/v1/public/cases/{case['case_id']}/photos/{a['sha256']}"
        for a in case.get("attachments") or ()
        if a.get("stage") == PUBLIC_STAGE
    ]
    return {
        "case_id": case["case_id"],
        "status": status_words(page, case),
        "category": category.name if category else case.get("category") or "",
        "community": area_name(page, areas, case.get("community")),
        "raised": _day(case.get("raised_at")),
        "resolved": _day(case.get("resolved_at")),
        "published": _day(case.get("published_at")),
        "summary": (summary or "") if published else "",
        "photos": photos if published else [],
    }


def _communities(page: Page) -> list[tuple[str, str]]:
    areas = _areas(page)
    return [
        (a.code, area_name(page, areas, a.code))
        for a in sorted(areas.values(), key=lambda a: a.code)
        if a.kind in ("community", "village")
    ]


@router.get("/public", response_class=HTMLResponse, include_in_schema=False)
async def published_results(
    page: Annotated[Page, Depends(public_page)],
    community: Code = "",
    category: Code = "",
) -> Response:
    """晒事: the published results, newest first, by community and category."""
    services = page.request.app.state.services
    filters = CaseFilters(
        published_only=True,
        area=community or None,
        category=category or None,
        limit=PUBLIC_LIMIT,
    )
    rows = await services.read.cases(Scope(), filters)
    ids = [r["case_id"] for r in rows]
    details, follow = await asyncio.gather(
        asyncio.gather(*(services.read.case(i) for i in ids)), services.read.follow_ups(ids)
    )
    items = [
        public_case(page, detail or row, (follow.get(row["case_id"]) or {}).get("summary"))
        for row, detail in zip(rows, details, strict=True)
    ]
    return render(
        page,
        "public.html",
        items=items,
        communities=_communities(page),
        groups=category_groups(_categories(page)),
        community=community,
        category=category,
    )


@router.get("/public/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
async def public_status(case_id: str, page: Annotated[Page, Depends(public_page)]) -> Response:
    """A case's status for anyone who has its id: the public fields only."""
    services = page.request.app.state.services
    case = await services.read.case(case_id) if len(case_id) <= 64 else None
    if case is None:
        raise PageError(404, "public_no_case", case_id=case_id[:64])
    follow = await services.read.follow_ups([case_id])
    item = public_case(page, case, (follow.get(case_id) or {}).get("summary"))
    return render(page, "public_case.html", item=item)
