"""Photos sent with a page's form (a multipart ``photos`` field, up to ``MAX_PHOTOS``): checked
and stored as the API's upload does (``POST /v1/attachments``: the same library and uploads
record), then attached by an ``AttachPhotos`` of their stage once the case step is accepted.

No JavaScript is needed: the browser sends the files with the form; a refused photo (type,
size, count) answers with the form and the message beside the field, and nothing is raised.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile

from whistle.api.commands import new_command_id
from whistle.api.i18n import DETAILS
from whistle.api.i18n import text as api_text
from whistle.attachments.photos import PhotoError
from whistle.domain.steps.attach import MAX_PHOTOS, AttachPhotos, Photo
from whistle.read.scope import Row
from whistle.web.messages import PAGES
from whistle.web.pages import FormPage, Page

FIELD = "photos"


def sent_files(page: FormPage) -> list[UploadFile]:
    """The files of the form's ``photos`` field (an empty file input sends one empty part)."""
    return [
        f for f in page.form.getlist(FIELD) if isinstance(f, UploadFile) and (f.filename or f.size)
    ]


async def store_sent(page: FormPage) -> tuple[tuple[Photo, ...], str | None]:
    """Check and store the form's photos as the visitor's uploads: the photos, or the first
    refusal in the visitor's language (too many, too large, not a photo…)."""
    files = sent_files(page)
    if not files:
        return (), None
    if len(files) > MAX_PHOTOS:
        return (), page.t("photos_too_many", limit=MAX_PHOTOS, count=len(files))
    services = page.request.app.state.services
    library, uploads = getattr(services, "photos", None), getattr(services, "uploads", None)
    if library is None or uploads is None:
        return (), page.t("photos_unavailable")
    photos: list[Photo] = []
    for file in files:
        data = await file.read(library.max_bytes + 1)
        try:
            stored = await library.add(data)
        except PhotoError as exc:
            reason = api_text(DETAILS, exc.code, page.lang, **exc.params)
            return (), page.t("photo_refused", name=file.filename or "", reason=reason)
        info = stored.info
        await uploads.record(info, page.principal.user_id)
        kind: Any = info.content_type
        photo = Photo(sha256=info.sha256, size=info.size, content_type=kind)
        if photo not in photos:
            photos.append(photo)
    return tuple(photos), None


def attach_command(page: FormPage, case_id: str, stage: str, photos: tuple[Photo, ...]) -> Any:
    """The ``AttachPhotos`` of ``photos`` to ``case_id`` at ``stage`` by the visitor (a
    liaison for their own department, as the API fills it)."""
    stage_: Any = stage
    principal = page.principal
    return AttachPhotos(
        command_id=new_command_id(),
        case_id=case_id,
        actor=principal.actor(),
        stage=stage_,
        photos=photos,
        department=principal.department if principal.role == "liaison" else None,
    )


def case_photos(page: Page, case: Row) -> list[dict[str, str]]:
    """A case's photos as its pages show them (``_photos.html``): the thumbnail's address
    (``/cases/{id}/photos/{sha256}``, for the case's parties) and the stage in words."""
    case_id = case["case_id"]
    return [
        {
            "src": f"/cases/{case_id}/photos/{a['sha256']}",
            "stage": page.t(f"photo_stage_{a.get('stage')}"),
        }
        for a in case.get("attachments") or ()
        if f"photo_stage_{a.get('stage')}" in PAGES
    ]
