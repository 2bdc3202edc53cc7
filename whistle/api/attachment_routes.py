"""Photos (附图): upload, attach to a case at a stage, and fetch — the original for the case's
parties, thumbnails and the copy without location for the rest.

Upload first (``POST /v1/attachments``: a multipart ``file``; the answer carries the photo's
SHA-256, size, type and thumbnail URL), then attach by those (``POST /v1/cases/{id}/attachments``
or ``photos`` of ``POST /v1/cases``). Who sees a case's originals is who sees the case
(``whistle.read.scope``); an upload not yet attached is shown to its uploader only.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from whistle.api.commands import (
    add_command_route,
    decide,
    department_from_principal,
    roles_for,
)
from whistle.api.deps import (
    CurrentPrincipal,
    CurrentServices,
    Services,
    not_found,
    require_role,
    visible,
)
from whistle.api.identity import Principal
from whistle.api.problems import ProblemError, problem_responses
from whistle.attachments.library import PhotoLibrary
from whistle.attachments.photos import PhotoError, PhotoInfo
from whistle.attachments.uploads import Uploads
from whistle.domain.base import Command
from whistle.domain.steps.attach import MAX_PHOTOS, AttachPhotos, Photo
from whistle.logs import get_logger
from whistle.read.scope import Row

router = APIRouter(tags=["attachments"])

Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The photo's SHA-256, hex.")]
CaseId = Annotated[str, Path(max_length=64)]
UPLOADERS = roles_for(AttachPhotos)
PHOTO_STATUS = {"photo_too_large": 413}
"""413 for a photo over the size limit; every other refusal of what was sent is 422 (the
request's own type, multipart, is supported: its file is not a photo, or is broken)."""
PHOTO_KIND = {413: "too_large"}
CACHE = {"Cache-Control": "private, max-age=31536000, immutable"}
"""A photo under its hash never changes; ``private``: only the caller's own cache keeps it."""
PUBLIC_STAGES = frozenset({"publish"})
"""Stages whose photos a published case shows to the public (晒事 after photos)."""
RAISE_PHOTOS = uuid.UUID("5d2c6f0e-8f3b-4a8e-9a61-2b7f0c9e4d13")
"""Namespace of the id of the command that attaches a raise's photos (from the raise's id)."""
PhotoHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

log = get_logger()


class Uploaded(BaseModel):
    """A stored photo: what to attach it by, and where its thumbnail is."""

    sha256: str
    size: int
    content_type: str
    width: int
    height: int
    stored: str = Field(description="new: first copy in the store; existing: stored before.")
    thumbnail_url: str


def photo_problem(error: PhotoError) -> ProblemError:
    """The problem of a refused photo: 413 too large, else 422 (with the reason's code)."""
    status = PHOTO_STATUS.get(error.code, 422)
    return ProblemError(
        status,
        PHOTO_KIND.get(status, "validation"),
        detail_key=error.code,
        detail_values=dict(error.params),
        code=error.code,
    )


def library(services: Services) -> tuple[PhotoLibrary, Uploads]:
    """The photo library and uploads wired at start-up; 503 without them."""
    if services.photos is None or services.uploads is None:
        raise ProblemError(
            503,
            "unavailable",
            detail_key="unavailable",
            detail_values={"what": "photos", "retry": 1},
            headers={"Retry-After": "1"},
        )
    return services.photos, services.uploads


async def store_photo(services: Services, principal: Principal, data: bytes) -> Uploaded:
    """Check and store ``data`` as ``principal``'s upload (a problem when refused)."""
    photos, uploads = library(services)
    try:
        stored = await photos.add(data)
    except PhotoError as exc:
        raise photo_problem(exc) from exc
    info = stored.info
    await uploads.record(info, principal.user_id)
    return Uploaded(
        sha256=info.sha256,
        size=info.size,
        content_type=info.content_type,
        width=info.width,
        height=info.height,
        stored="new" if stored.new else "existing",
        thumbnail_url=f"/v1/attachments/{info.sha256}/thumbnail",
    )


@router.post(
    "/v1/attachments",
    status_code=201,
    response_model=Uploaded,
    summary="Upload a photo (JPEG, PNG, HEIC)",
    responses=problem_responses(401, 403, 413, 422),
    operation_id="uploadPhoto",
)
async def upload_photo(
    principal: CurrentPrincipal,
    services: CurrentServices,
    file: Annotated[UploadFile, File(description="One photo: JPEG, PNG or HEIC.")],
) -> JSONResponse:
    """Stores the photo under its SHA-256 (once, however often it is sent), with a thumbnail
    and a copy without location; attach it to a case with the fields answered."""
    require_role(principal, UPLOADERS)
    photos, _ = library(services)
    data = await file.read(photos.max_bytes + 1)
    uploaded = await store_photo(services, principal, data)
    return JSONResponse(uploaded.model_dump(), status_code=201)


@router.get(
    "/v1/attachments/{sha256}/thumbnail",
    response_class=Response,
    summary="The thumbnail of a photo one uploaded",
    responses={200: {"content": {"image/jpeg": {}}}, **problem_responses(401, 404)},
    operation_id="getUploadThumbnail",
)
async def upload_thumbnail(
    sha256: Sha256, principal: CurrentPrincipal, services: CurrentServices
) -> Response:
    """For the form that uploaded it, before any case holds it: the uploader only."""
    photos, uploads = library(services)
    if await uploads.find(sha256, principal.user_id) is None:
        raise ProblemError(404, "not_found", detail_key="photo_not_found")
    return _image(await photos.thumbnail(sha256))


async def case_photo(services: Services, principal: Principal, case_id: str, sha256: str) -> Row:
    """The photo's row on a case the caller sees; 404 otherwise (as for the case itself)."""
    case = await services.read.case(case_id)
    if case is None or not visible(principal, case):
        raise not_found()
    found = next((a for a in case.get("attachments") or () if a["sha256"] == sha256), None)
    if found is None:
        raise ProblemError(404, "not_found", detail_key="photo_not_found")
    return found


@router.get(
    "/v1/cases/{case_id}/attachments/{sha256}",
    response_class=Response,
    summary="A case's photo as uploaded (the case's parties only)",
    responses={200: {"content": {"image/*": {}}}, **problem_responses(401, 404)},
    operation_id="getCasePhoto",
)
async def get_case_photo(
    case_id: CaseId, sha256: Sha256, principal: CurrentPrincipal, services: CurrentServices
) -> Response:
    """The original bytes, location included: for those who see the case."""
    photos, _ = library(services)
    await case_photo(services, principal, case_id, sha256)
    return _image(await photos.original(sha256))


@router.get(
    "/v1/cases/{case_id}/attachments/{sha256}/thumbnail",
    response_class=Response,
    summary="A case's photo as a thumbnail (no metadata)",
    responses={200: {"content": {"image/jpeg": {}}}, **problem_responses(401, 404)},
    operation_id="getCasePhotoThumbnail",
)
async def get_case_photo_thumbnail(
    case_id: CaseId, sha256: Sha256, principal: CurrentPrincipal, services: CurrentServices
) -> Response:
    """The thumbnail, for those who see the case."""
    photos, _ = library(services)
    await case_photo(services, principal, case_id, sha256)
    return _image(await photos.thumbnail(sha256))


@router.get(
    "/v1/public/cases/{case_id}/photos/{sha256}",
    response_class=Response,
    summary="A published case's after photo, without location (晒事; no login)",
    responses={200: {"content": {"image/*": {}}}, **problem_responses(404)},
    operation_id="getPublicPhoto",
)
async def get_public_photo(case_id: CaseId, sha256: Sha256, services: CurrentServices) -> Response:
    """Only a photo attached at ``publish`` to a published case, and only its copy without
    location."""
    photos, _ = library(services)
    case = await services.read.case(case_id)
    shown = case is not None and case.get("published_at") is not None
    if not shown or not any(
        a["sha256"] == sha256 and a["stage"] in PUBLIC_STAGES
        for a in (case or {}).get("attachments") or ()
    ):
        raise ProblemError(404, "not_found", detail_key="photo_not_found")
    return _image(await photos.redacted(sha256), public=True)


def _image(found: tuple[bytes, str] | None, public: bool = False) -> Response:
    if found is None:
        raise ProblemError(404, "not_found", detail_key="photo_not_found")
    data, content_type = found
    headers = {**CACHE, "Cache-Control": CACHE["Cache-Control"].replace("private", "public")}
    return Response(data, media_type=content_type, headers=headers if public else CACHE)


async def check_uploaded(
    request: Request, services: Services, principal: Principal, command: Command
) -> None:
    """Each photo of an ``AttachPhotos`` was uploaded by the caller, as that size and type."""
    assert isinstance(command, AttachPhotos)
    await uploaded_photos(services, principal, [p.sha256 for p in command.photos], command.photos)


async def uploaded_photos(
    services: Services,
    principal: Principal,
    hashes: list[str],
    given: tuple[Photo, ...] | None = None,
) -> tuple[Photo, ...]:
    """The caller's uploads of ``hashes`` as photos (422 for one not uploaded by the caller, or
    given with another size or type)."""
    _, uploads = library(services)
    found: list[Photo] = []
    for i, sha in enumerate(hashes):
        info: PhotoInfo | None = await uploads.find(sha, principal.user_id)
        if info is None:
            raise ProblemError(
                422, "validation", detail_key="photo_not_uploaded", detail_values={"sha256": sha}
            )
        kind: Any = info.content_type
        photo = Photo(sha256=sha, size=info.size, content_type=kind)
        if given is not None and given[i] != photo:
            raise ProblemError(
                422, "validation", detail_key="photo_mismatch", detail_values={"sha256": sha}
            )
        found.append(photo)
    return tuple(found)


async def attach_raised(
    request: Request,
    services: Services,
    principal: Principal,
    raised: Command,
    photos: tuple[Photo, ...],
    response: JSONResponse,
) -> JSONResponse:
    """After a whistle is raised with photos: attach them (stage ``raise``) in a command of its
    own, whose id follows from the raise's (a retried raise attaches them once), and answer
    with both commands' events."""
    if not photos or response.status_code not in (200, 201):
        return response
    attach = AttachPhotos(
        command_id=str(uuid.uuid5(RAISE_PHOTOS, raised.command_id)),
        case_id=raised.case_id,
        actor=principal.actor(),
        stage="raise",
        photos=photos,
    )
    try:
        attached = await decide(request, services, attach)
    except ProblemError as exc:  # the case stands; its photos can be attached again
        log.warning("raise_photos_refused", case_id=raised.case_id, code=exc.code)
        return response
    body: dict[str, Any] = _json_body(response)
    body["events"] = [*body.get("events", []), *_json_body(attached).get("events", [])]
    headers = {k: v for k, v in response.headers.items() if k.lower() == "location"}
    return JSONResponse(body, status_code=response.status_code, headers=headers)


def _json_body(response: Response) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(bytes(response.body))
    return data


add_command_route(
    router,
    "/attachments",
    AttachPhotos,
    summary=f"Attach uploaded photos (附图, at most {MAX_PHOTOS} a stage)",
    fill=department_from_principal,
    check=check_uploaded,
)
