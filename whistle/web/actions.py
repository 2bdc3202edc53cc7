"""A case page's forms as the API's commands, for every workspace that has them (the liaison's
work page, the supervisor's case page): one route per action, each building the command with
the API's envelope, sending it on the bus and answering with the result.

A workspace declares its :class:`Action` list and a :class:`CaseActions` with what differs:
who may post, how a refusal is shown (its page again, the message beside the form) and where
a done action goes; :meth:`CaseActions.add_routes` adds the POST routes to its router.

An action with a photo stage takes photos too (its form's multipart ``photos`` field, checked
and stored by ``photo_forms.store_sent``): a refused photo answers with the message beside the
field before anything is sent; they are attached at that stage once the command is accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, Path
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from whistle.api.commands import command_id_for
from whistle.api.deps import Services, visible
from whistle.api.problems import field_errors
from whistle.bus import DecisionTimeout
from whistle.domain.base import Command
from whistle.domain.rejections import render as rejection_text
from whistle.domain.steps.attach import Photo
from whistle.read.scope import Row
from whistle.web.pages import FormPage, Page, PageError, form
from whistle.web.photo_forms import FIELD, attach_command, store_sent

CHINA = timezone(timedelta(hours=8))
CaseId = Annotated[str, Path(max_length=64)]
TIMES = ("at", "until")
"""Form fields that are times: a time without a zone is China time."""


@dataclass(frozen=True)
class Action:
    """A form of a case page: its command and the form fields it takes."""

    name: str
    command: type[Command]
    fields: tuple[str, ...]
    photos: str | None = None
    """The stage the form's photos are attached at (``progress``…); None: it takes none."""


A = TypeVar("A", bound=Action)
Forms = dict[str, dict[str, str]]
"""By action name, by field: the errors, or the values shown again, of a case page's forms."""
Refusal = Callable[[FormPage, str, Forms, Forms, int], Awaitable[Response]]
"""(page, case id, errors, values shown again, status) → the case page with the messages."""


def services_of(page: Page) -> Services:
    """The app's wired services."""
    services: Services = page.request.app.state.services
    return services


async def case_of(page: Page, case_id: str) -> Row:
    """The case with its assignments, clocks and joint actions, if the user may see it
    (otherwise the 404 page, as the API answers 404)."""
    case = await services_of(page).read.case(case_id)
    if case is None or not visible(page.principal, case):
        raise PageError(404, "no_such_case", case_id=case_id)
    return case


def command_values(page: FormPage, fields: tuple[str, ...]) -> dict[str, Any]:
    """The command's fields from the form: empty ones left out (the command's own defaults
    and rules apply), the departments of a joint action as a list, times as China time."""
    out: dict[str, Any] = {}
    for name in fields:
        if name == "departments":
            picked = [str(v) for v in page.form.getlist(name) if isinstance(v, str) and v]
            if picked:
                out[name] = picked
            continue
        value = page.value(name)
        if not value:
            continue
        if name in TIMES:
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                out[name] = value  # the command's validation says what is wrong
                continue
            out[name] = when if when.tzinfo else when.replace(tzinfo=CHINA)
        else:
            out[name] = value
    return out


async def projected(services: Services, case_id: str, seq: int, wait_s: float = 3.0) -> None:
    """Wait (bounded) until the read model shows the case past ``seq``, so the page the
    browser is sent to shows what was just done."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while asyncio.get_running_loop().time() < deadline:
        row = await services.read.case(case_id)
        if row is not None and int(row.get("applied_seq") or 0) > seq:
            return
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class CaseActions(Generic[A]):
    """One workspace's case actions: ``POST /{workspace}/cases/{case_id}/{action}``."""

    workspace: str
    """The path's first part and the routes' name prefix (``liaison``, ``supervisor``)."""
    who: Callable[..., Awaitable[Page]]
    """Who may post (a :func:`whistle.web.pages.roles` dependency)."""
    page_name: str
    """The page in the handlers' docstrings (``the liaison's page``)."""
    values: Callable[[FormPage, A], dict[str, Any]]
    refused: Refusal
    done: Callable[[FormPage, str, A], Response]

    async def act(self, page: FormPage, case_id: str, action: A) -> Response:
        """Build and send ``action``'s command as the API does (and attach its photos); the
        answer with its result."""
        before = await case_of(page, case_id)  # the 404 page outside the user's scope
        refusal = await self._decide(page, case_id, action, int(before.get("applied_seq") or 0))
        if refusal is None:
            return self.done(page, case_id, action)
        errors, status, again = refusal
        shown = {action.name: {k: page.value(k) for k in action.fields}} if again else {}
        return await self.refused(page, case_id, {action.name: errors}, shown, status)

    async def _decide(
        self, page: FormPage, case_id: str, action: A, seq: int
    ) -> tuple[dict[str, str], int, bool] | None:
        """None when done; else the messages by field, the status and whether the form's
        values are shown again (not once the command itself was accepted)."""
        principal = page.principal
        try:
            command = action.command(
                command_id=command_id_for(principal, case_id, action.command, None),
                case_id=case_id,
                actor=principal.actor(),
                **self.values(page, action),
            )
        except ValidationError as exc:
            errors = {e.field.split(".")[0] or "form": e.message
                      for e in field_errors(list(exc.errors()), page.lang)}  # fmt: skip
            return errors, 422, True
        photos: tuple[Photo, ...] = ()
        if action.photos:
            photos, photo_error = await store_sent(page)
            if photo_error:
                return {FIELD: photo_error}, 422, True
        refusal = await self._send(page, case_id, command, seq)
        if refusal is not None:
            return *refusal, True
        if action.photos and photos:
            seq = int((await case_of(page, case_id)).get("applied_seq") or 0)
            attach = attach_command(page, case_id, action.photos, photos)
            refusal = await self._send(page, case_id, attach, seq)
            if refusal is not None:  # the step stands; the photos' refusal beside their field
                return {FIELD: refusal[0]["form"]}, refusal[1], False
        return None

    async def _send(
        self, page: FormPage, case_id: str, command: Command, seq: int
    ) -> tuple[dict[str, str], int] | None:
        """None when the command was accepted (and projected past ``seq``); else the messages
        by field and the status: 202 not decided in time, 409 rejected."""
        services = services_of(page)
        try:
            decision = await services.bus.submit(command, case_id, command.command_id)
        except DecisionTimeout:
            return {"form": page.t("decision_pending")}, 202
        if decision.status == "rejected":
            code = decision.code or "rejected"
            message = rejection_text(code, decision.params, page.lang) or decision.message or code
            return {"form": message}, 409
        if decision.events:
            await projected(services, case_id, seq)
        return None

    def add_routes(self, router: APIRouter, actions: Iterable[A]) -> None:
        """One POST route on ``router`` for each of ``actions``."""
        for action in actions:
            self._add_route(router, action)

    def _add_route(self, router: APIRouter, action: A) -> None:
        async def handler(
            case_id: CaseId,
            page: FormPage = Depends(form(self.who)),  # noqa: B008
            # (a default, not Annotated: the annotation is a string, ``self`` no global)
        ) -> Response:
            return await self.act(page, case_id, action)

        handler.__doc__ = f"{action.command.__name__} from {self.page_name}."
        router.add_api_route(
            f"/{self.workspace}/cases/{{case_id}}/{action.name}",
            handler,
            methods=["POST"],
            include_in_schema=False,
            response_class=HTMLResponse,
            name=f"{self.workspace}_{action.name.replace('-', '_')}",
        )
