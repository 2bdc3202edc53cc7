"""The FastAPI application: wiring of the bus, the database and the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from swagger_ui_bundle import swagger_ui_path

import whistle
from whistle.api import (
    attachment_routes,
    audit_routes,
    calendar_watch,
    cases,
    config_routes,
    dashboard,
    health,
    liaison,
    notification_routes,
    notifier_routes,
    open311,
    similar,
    subscription_routes,
    supervisor,
    webhook_routes,
    whatif_routes,
)
from whistle.api.account_store import PgIdempotency, PgUsers, migrate_api
from whistle.api.deps import Services
from whistle.api.direct_reads import DirectReads
from whistle.api.errordocs import document_errors, document_parameters
from whistle.api.limits import BodyLimit, ServerTiming
from whistle.api.links import add_case_links
from whistle.api.nulguard import NulGuard, document_nul_refusal
from whistle.api.overload import InFlightLimit, install_unavailable_handlers
from whistle.api.pool import create_pool, freeze_startup_objects
from whistle.api.problems import Problem, install_problem_handlers
from whistle.api.readcache import CachedReadModel
from whistle.api.repeats import refuse_repeated_parameters
from whistle.api.starlette_adapter import wrap_router
from whistle.attachments.blob_settings import BlobSettings
from whistle.attachments.blobs import BlobStore, open_blob_store
from whistle.attachments.library import PhotoLibrary
from whistle.attachments.uploads import PgUploads
from whistle.attachments.uploads import ensure_schema as ensure_uploads_schema
from whistle.audit.entries import AuditLog
from whistle.bus import CommandBus
from whistle.config.follower import ConfigFollower
from whistle.config.seed import configured_seed
from whistle.config.service import ConfigService
from whistle.config.version_table import PgConfigVersions
from whistle.domain.routing import load_rules
from whistle.domain.steps.attach import MAX_PHOTOS
from whistle.notify.inbox import Inbox
from whistle.notify.inbox import ensure_schema as ensure_inbox_schema
from whistle.notify.notifier_store import NotifierStore
from whistle.read.gateway import PgRead, ReadModel
from whistle.settings import Settings
from whistle.web import install_web
from whistle.web.accounts import PgAccounts
from whistle.webhooks.delivery_store import WebhookStore
from whistle.webhooks.schema import ensure_schema as ensure_webhook_schema
from whistle.webhooks.secretbox import secret_box

DESCRIPTION = """\
Whistle (吹哨): community secretaries raise whistles, department liaisons sign for and work
them, supervisors watch deadlines and rule on disputes.

* Authenticate with `Authorization: Bearer <token>` (tokens from `whistle users add`).
* Errors are RFC 9457 `application/problem+json`, in Chinese unless `Accept-Language: en`.
* Commands answer with the decider's outcome: 201/200 with the events, 409/422 with the
  rejection `code`, or 202 with a `Location` to poll when no decision came in time.
* Open311 GeoReport v2 lives under `/open311/v2/`.
"""


class ApiSettings(BaseSettings):
    """Settings of the HTTP API only (``WHISTLE_API_…``)."""

    model_config = SettingsConfigDict(env_prefix="WHISTLE_API_", extra="ignore")

    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Larger bodies → 413.")
    ready_max_lag_events: int = Field(
        default=10_000, ge=0, description="/readyz fails when projections lag more events."
    )
    token_cache_s: float = Field(default=5.0, ge=0, description="Token lookup cache (revoke).")
    read_cache_s: float = Field(
        default=1.0, ge=0, description="Lists and boards shared per scope this long (0: off)."
    )
    fast_reads: bool = Field(
        default=True, description="Serve the five hot reads before FastAPI's routing."
    )
    pool_min: int = Field(default=2, ge=1)
    pool_max: int = Field(default=10, ge=1)


async def connect_services(settings: Settings, api: ApiSettings) -> tuple[Services, Any]:
    """Start the bus and the pool, migrate the API tables; return services and a closer."""
    pool = await create_pool(settings.dsn, api.pool_min, api.pool_max)
    try:
        async with pool.acquire() as conn:
            await migrate_api(conn)
            await ensure_webhook_schema(conn)
            await ensure_inbox_schema(conn)
            await ensure_uploads_schema(conn)
        webhooks = WebhookStore(pool, secret_box(settings))
        blob = BlobSettings()
        photos = photo_library(blob, await open_blob_store(blob, settings.state_dir))
        follower = ConfigFollower(settings, seed=configured_seed(settings))
        await follower.start()
        config = ConfigService(follower, PgConfigVersions(pool), pool)
        await config.sync()
        bus = CommandBus(settings)
        await bus.start()
    except BaseException:
        await pool.close()
        raise

    async def close() -> None:
        await bus.stop()
        await follower.stop()
        await photos.close()
        await pool.close()

    live_read = PgRead(pool)
    read: ReadModel = live_read
    if api.read_cache_s > 0:
        read = CachedReadModel(live_read, api.read_cache_s)
    services = Services(
        bus=bus,
        read=read,
        users=PgUsers(pool, api.token_cache_s),
        idempotency=PgIdempotency(pool),
        kafka_probe=health.kafka_probe(settings.bootstrap),
        max_lag_events=api.ready_max_lag_events,
        live_read=live_read,
        webhooks=webhooks,
        config=config,
        audit=AuditLog(pool),
        calendar=calendar_watch.CalendarWatch(live_read, lambda: follower.current().calendar),
        inbox=Inbox(pool),
        notifier=NotifierStore(pool, webhooks.box),
        photos=photos,
        uploads=PgUploads(pool),
        accounts=PgAccounts(pool),
    )
    return services, close


def photo_library(blob: BlobSettings, store: BlobStore) -> PhotoLibrary:
    """The photo library over ``store`` with ``blob``'s limits."""
    return PhotoLibrary(
        store,
        max_bytes=blob.max_photo_bytes,
        max_pixels=blob.max_photo_pixels,
        media_timeout_s=blob.media_url_timeout_s,
        media_private_ok=blob.media_url_private_ok,
    )


def create_app(
    settings: Settings, services: Services | None = None, api: ApiSettings | None = None
) -> FastAPI:
    """The API app; ``services`` replaces the real bus and database (tests)."""
    api = api or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        app.state.services, close = await connect_services(settings, api)
        freeze_startup_objects()
        try:
            yield
        finally:
            await close()

    app = FastAPI(
        title="Whistle API",
        version=whistle.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(refuse_repeated_parameters)],
    )
    if services is not None:
        app.state.services = services
    app.state.routing_rules = load_rules(settings.routing_rules_file)  # as the worker routes
    install_problem_handlers(app)
    install_unavailable_handlers(app, settings.api_retry_after_s)
    app.add_middleware(NulGuard)
    photo_body = BlobSettings().max_photo_bytes + 64 * 1024  # a photo and its multipart framing
    app.add_middleware(
        BodyLimit,
        limit=api.max_body_bytes,
        larger={
            "/v1/attachments": max(photo_body, api.max_body_bytes),
            # the pages' forms that carry photos (up to 9: whistle.web.photo_forms)
            "/whistle": max(MAX_PHOTOS * photo_body, api.max_body_bytes),
            "*/publish": max(MAX_PHOTOS * photo_body, api.max_body_bytes),
            "/liaison/cases/*/progress": max(MAX_PHOTOS * photo_body, api.max_body_bytes),
        },
    )
    app.add_middleware(ServerTiming)
    app.add_middleware(
        InFlightLimit,
        commands=settings.api_max_inflight_commands,
        reads=settings.api_max_inflight_reads,
        retry_after_s=settings.api_retry_after_s,
    )
    for module in (
        health,
        cases,
        similar,
        attachment_routes,
        liaison,
        supervisor,
        open311,
        webhook_routes,
        audit_routes,
        calendar_watch,
        notification_routes,
        notifier_routes,
        subscription_routes,
        dashboard,
        config_routes,
        whatif_routes,
    ):
        app.include_router(module.router)
    install_web(app)
    if api.fast_reads:
        wrap_router(app, DirectReads)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    install_docs(app)
    return app


def install_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the packaged bundle (no CDN: works offline)."""
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Whistle API · 吹哨",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    app.add_api_route("/docs", docs, include_in_schema=False, response_class=HTMLResponse)


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with the Problem schema every error response refers to."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in problem.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas["Problem"] = problem
    document_errors(doc)
    document_parameters(doc)
    document_nul_refusal(doc)
    add_case_links(doc)
    app.openapi_schema = doc
    return doc
