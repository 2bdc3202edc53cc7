"""The admin's user pages (list, create, reset a password, revoke) and the reset's API route."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from whistle.api.deps import CurrentPrincipal, CurrentServices, require_role
from whistle.api.identity import AREA_ROLES, SCOPE_KINDS, USER_ROLES, UserRole
from whistle.api.problems import ProblemError, problem_responses
from whistle.domain.areas import known_area, known_department
from whistle.web.accounts import Accounts, UsernameTaken
from whistle.web.pages import FormPage, Page, PageError, form, redirect, render, roles

router = APIRouter()
IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
admin_page = roles("admin")


@router.get("/admin/users", response_class=HTMLResponse, include_in_schema=False)
async def users_page(page: Annotated[Page, Depends(admin_page)]) -> Response:
    """Every user with role, scope and status; reset and revoke buttons."""
    people = await _accounts(page).people()
    revoked = page.request.query_params.get("revoked")
    return render(page, "users.html", people=people, revoked=revoked)


@router.get("/admin/users/new", response_class=HTMLResponse, include_in_schema=False)
async def new_user_page(page: Annotated[Page, Depends(admin_page)]) -> Response:
    """The new-user form."""
    return render(page, "user_new.html", errors={}, values={}, roles=USER_ROLES)


@router.post("/admin/users", response_class=HTMLResponse, include_in_schema=False)
async def create_user(page: Annotated[FormPage, Depends(form(admin_page))]) -> Response:
    """Create a person who logs in; the generated password is shown once."""
    values = {k: page.value(k) for k in ("user_id", "username", "name", "role", "area")}
    values["department"] = page.value("department")
    errors = {k: page.t("bad_identifier") for k in ("user_id", "username")
              if not IDENTIFIER.fullmatch(values[k])}  # fmt: skip
    role = values["role"]
    if role not in USER_ROLES:
        errors["role"] = page.t("required")
    else:
        errors |= scope_errors(page, role, values["area"] or None, values["department"] or None)
    if not errors:
        try:
            password = await _accounts(page).create_person(
                values["user_id"],
                values["username"],
                role,  # type: ignore[arg-type]  # checked against USER_ROLES above
                area=values["area"] or None,
                department=values["department"] or None,
                name=values["name"],
                actor=page.principal.user_id,
            )
        except UsernameTaken:
            errors["user_id"] = page.t("user_exists")
        else:
            return _shown_once(page, values["user_id"], values["username"], password, 201)
    return render(page, "user_new.html", 422, errors=errors, values=values, roles=USER_ROLES)


@router.post(
    "/admin/users/{user_id}/password", response_class=HTMLResponse, include_in_schema=False
)
async def reset_password_page(
    user_id: str, page: Annotated[FormPage, Depends(form(admin_page))]
) -> Response:
    """Give the user a fresh password, shown once on the answer page."""
    reset = await _accounts(page).reset_password(user_id, actor=page.principal.user_id)
    if reset is None:
        raise PageError(404, "no_such_user", user_id=user_id)
    return _shown_once(page, user_id, reset[0], reset[1], 200)


@router.post("/admin/users/{user_id}/revoke", include_in_schema=False)
async def revoke_user(
    user_id: str, page: Annotated[FormPage, Depends(form(admin_page))]
) -> Response:
    """Revoke the user's token, password and sessions; back to the list."""
    if not await _accounts(page).revoke(user_id, actor=page.principal.user_id):
        raise PageError(404, "no_such_user", user_id=user_id)
    return redirect(page, f"/admin/users?revoked={user_id}")


def _shown_once(page: Page, user_id: str, username: str, password: str, status: int) -> Response:
    return render(
        page,
        "password_once.html",
        status,
        no_store=True,
        user_id=user_id,
        username=username,
        password=password,
    )


def _accounts(page: Page) -> Accounts:
    accounts: Accounts = page.request.app.state.services.accounts
    return accounts


def scope_errors(
    page: Page, role: UserRole, area: str | None, department: str | None
) -> dict[str, str]:
    """What is wrong with a role's area and department, beside the field it concerns (the
    rules of ``identity.validate_scope``, in the visitor's language)."""
    errors: dict[str, str] = {}
    if role in AREA_ROLES:
        kinds = SCOPE_KINDS[role]
        known = known_area(area) if area else None
        if not area:
            errors["area"] = page.t("need_area")
        elif known is None or known.kind not in kinds:
            errors["area"] = page.t("wrong_area", code=area, kinds=" / ".join(kinds))
    elif area:
        errors["area"] = page.t("no_area")
    if role == "liaison":
        if not department:
            errors["department"] = page.t("need_department")
        elif not known_department(department):
            errors["department"] = page.t("unknown_department", code=department)
    elif department:
        errors["department"] = page.t("no_department")
    return errors


class PasswordReset(BaseModel):
    """A fresh password, shown only in this answer: the user changes it at the next login."""

    user_id: str
    username: str
    password: str


@router.post(
    "/v1/users/{user_id}/password",
    tags=["users"],
    summary="Reset a user's password (admins): a fresh one, shown once",
    operation_id="resetPassword",
    responses=problem_responses(401, 403, 404),
)
async def reset_password(
    user_id: str, principal: CurrentPrincipal, services: CurrentServices, response: Response
) -> PasswordReset:
    """A fresh generated password for an active user (logging in needs it changed first);
    the user's page sessions end. Recorded in the audit log."""
    require_role(principal, ("admin",))
    if services.accounts is None:
        raise ProblemError(503, "unavailable", detail_key="unavailable",
                           detail_values={"what": "accounts", "retry": 5})  # fmt: skip
    reset = await services.accounts.reset_password(user_id, actor=principal.user_id)
    if reset is None:
        raise ProblemError(404, "not_found", detail_key="no_user", detail_values={"id": user_id})
    response.headers["Cache-Control"] = "no-store"
    return PasswordReset(user_id=user_id, username=reset[0], password=reset[1])
