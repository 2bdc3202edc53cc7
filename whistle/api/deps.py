"""FastAPI dependencies: the wired services, the calling principal, and scope checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from whistle.api.account_store import Idempotency, Identity
from whistle.api.identity import Principal, UserRole, sees
from whistle.api.problems import ProblemError
from whistle.bus import Decision
from whistle.read.gateway import ReadModel
from whistle.read.scope import Row

if TYPE_CHECKING:
    from whistle.api.calendar_watch import CalendarWatch
    from whistle.attachments.library import PhotoLibrary
    from whistle.attachments.uploads import Uploads
    from whistle.audit.entries import AuditLog
    from whistle.config.service import ConfigService
    from whistle.notify.inbox import Inbox
    from whistle.notify.notifier_store import NotifierStore
    from whistle.web.accounts import Accounts
    from whistle.webhooks.delivery_store import WebhookStore


class Bus(Protocol):
    """What the API needs of the command bus."""

    async def submit(self, command: Any, case_id: str, command_id: str) -> Decision:
        """Send ``command`` and wait boundedly for the decision."""
        ...


class Probe(Protocol):
    """A readiness check of one dependency; raises when it is not reachable."""

    async def __call__(self) -> None: ...


@dataclass
class Services:
    """Everything the handlers use, wired once by ``create_app`` (fakes in unit tests)."""

    bus: Bus
    read: ReadModel
    users: Identity
    idempotency: Idempotency
    kafka_probe: Probe
    max_lag_events: int = 10_000
    live_read: ReadModel | None = None
    """The read model without the 1 s list cache, for the live board (``None``: ``read``)."""
    webhooks: WebhookStore | None = None
    """Webhook endpoints and deliveries (``None``: the webhook routes answer 503)."""
    config: ConfigService | None = None
    """Configuration versions (``None``: the configuration routes answer 503)."""
    audit: AuditLog | None = None
    """The audit log of administration (``None``: ``GET /v1/audit`` answers 503)."""
    calendar: CalendarWatch | None = None
    """Clocks beyond the holiday calendar (``None``: /readyz leaves the calendar out)."""
    inbox: Inbox | None = None
    """The users' in-app notifications (``None``: the notification routes answer 503)."""
    notifier: NotifierStore | None = None
    """Notification preferences, group robots and the delivery log (``None``: 503)."""
    photos: PhotoLibrary | None = None
    """The photo library over the blob store (``None``: the photo routes answer 503)."""
    uploads: Uploads | None = None
    """Who uploaded which photo (with ``photos``)."""
    accounts: Accounts | None = None
    """People's passwords and page sessions (``None``: the pages answer 503)."""

    @property
    def board_read(self) -> ReadModel:
        """What the live board reads: the uncached read model when there is one."""
        return self.live_read or self.read


async def get_services(request: Request) -> Services:
    """The services wired into the app."""
    services: Services = request.app.state.services
    return services


_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer wh_…`")

UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="whistle"'}


async def get_principal(
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <token>``; 401 problem+json otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ProblemError(401, "unauthorized", detail_key="missing_token", headers=UNAUTHORIZED)
    principal = await services.users.principal(credentials.credentials)
    if principal is None:
        raise ProblemError(401, "unauthorized", detail_key="bad_token", headers=UNAUTHORIZED)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
CurrentServices = Annotated[Services, Depends(get_services)]


def require_role(principal: Principal, roles: tuple[UserRole, ...]) -> None:
    """403 when the caller's role may not do this (only for what the caller may see)."""
    if principal.role not in roles:
        raise ProblemError(
            403, "forbidden_role", detail_key="role_cannot", detail_values={"role": principal.role}
        )


def visible(principal: Principal, row: Row | None) -> bool:
    """Whether the case row exists and lies in the caller's scope."""
    return row is not None and sees(principal, row.get("area"), row.get("departments") or ())


def not_found() -> ProblemError:
    """404 for a case that does not exist or lies outside the caller's scope (never 403)."""
    return ProblemError(404, "not_found", detail_key="case_not_found")


async def visible_case(services: Services, principal: Principal, case_id: str) -> Row:
    """The case, or 404 when it does not exist or lies outside the caller's scope."""
    row = await services.read.case(case_id)
    if row is None or not visible(principal, row):
        raise not_found()
    return row


async def check_visible(services: Services, principal: Principal, case_id: str) -> None:
    """404 unless the case exists within the caller's scope (reads only its scope columns)."""
    if not visible(principal, await services.read.case_scope(case_id)):
        raise not_found()
