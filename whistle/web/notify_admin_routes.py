"""The admin's pages of which notifications each department's liaisons receive (#18 item 1),
on the same rules and store as ``PUT /v1/notifications/subscriptions/departments/{…}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from whistle.api.problems import ProblemError
from whistle.api.subscription_routes import checked, department_person, overview
from whistle.domain.areas import known_department, load_departments
from whistle.notify.message import KINDS
from whistle.notify.subscriptions import Subscriptions
from whistle.web.liaison_routes import department_name
from whistle.web.notify_routes import chosen_kinds, kind_error, store_of
from whistle.web.pages import FormPage, Page, PageError, form, redirect, render, roles

router = APIRouter()
admin_page = roles("admin")
PAGE = "/admin/notifications/departments"


@router.get(PAGE, response_class=HTMLResponse, include_in_schema=False)
async def departments_page(page: Annotated[Page, Depends(admin_page)]) -> Response:
    """Every department with the kinds it turned off for its liaisons."""
    subs = await store_of(page).subscriptions.all()
    rows = [
        {"code": code, "name": department_name(code, page.lang),
         "off": [k for k in KINDS if subs.departments.get(code, {}).get(k) is False]}
        for code in sorted(load_departments())
    ]  # fmt: skip
    return render(page, "notify_departments.html", rows=rows)


def _known(code: str) -> str:
    if not known_department(code):
        raise PageError(404, "unknown_department", code=code)
    return code


async def _show(page: Page, code: str, settings: dict[str, bool], errors: dict[str, str],
                status: int = 200, saved: bool = False) -> Response:  # fmt: skip
    kinds = overview(department_person(code), Subscriptions(departments={code: settings}))
    return render(page, "notify_department.html", status, code=code, kinds=kinds, hints=False,
                  errors=errors, saved=saved, name=department_name(code, page.lang))  # fmt: skip


@router.get(PAGE + "/{department}", response_class=HTMLResponse, include_in_schema=False)
async def department_page(department: str, page: Annotated[Page, Depends(admin_page)]) -> Response:
    """A checkbox per kind: ticked, the department's liaisons receive it (the default)."""
    code = _known(department)
    settings = await store_of(page).subscriptions.of("department", code)
    return await _show(
        page, code, settings, {}, saved=page.request.query_params.get("saved") == "1"
    )


@router.post(PAGE + "/{department}", response_class=HTMLResponse, include_in_schema=False)
async def save_department(
    department: str, page: Annotated[FormPage, Depends(form(admin_page))]
) -> Response:
    """Save the department's settings whole: an unticked kind is off for its liaisons (a
    liaison's own choice still comes first); a ticked one is the default, stored as nothing."""
    code = _known(department)
    chosen = chosen_kinds(page)
    try:
        checked("liaison", dict.fromkeys(chosen, True))
    except ProblemError as exc:
        shown = {k: k in chosen for k in KINDS}
        return await _show(page, code, shown, kind_error(page, exc), 422)
    settings = {k: False for k in KINDS if k not in chosen}
    await store_of(page).subscriptions.put("department", code, settings, page.principal.user_id)
    return redirect(page, f"{PAGE}/{code}?saved=1")
