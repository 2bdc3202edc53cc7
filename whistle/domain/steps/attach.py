"""附图: attach photos to a case — of the problem when raised, of the work, of the result.

Photos are uploaded first (``POST /v1/attachments``) and stored by their SHA-256 in the blob
store; the command names them by that hash with the size and type the store measured. The
event records those and, in its envelope, who attached them and when: never the bytes. A
stage is where in the case the photos belong: ``raise`` (the whistle's own photos, by the
community), ``progress`` (a department's work), ``resolution`` (the lead's result) and
``publish`` (the after photos of 晒事). Each stage holds at most ``MAX_PHOTOS`` photos (a
department's progress: that many per department); a photo already attached at a stage is not
attached twice.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from whistle.domain.base import ActsFor, Command, Event, Frozen, Role
from whistle.domain.decisions.base import Ctx, Decision, decides
from whistle.domain.evolve import Updates, evolves
from whistle.domain.rejections import joined
from whistle.domain.state import CaseState

MAX_PHOTOS = 9
"""Photos per stage of a case (per department for progress): what a phone's picker allows."""

PhotoStage = Literal["raise", "progress", "resolution", "publish"]
PhotoType = Literal["image/jpeg", "image/png", "image/heic"]

STAGE_ROLES: dict[str, frozenset[Role]] = {
    "raise": frozenset({"secretary", "admin", "system"}),
    "progress": frozenset({"liaison", "admin"}),
    "resolution": frozenset({"liaison", "supervisor", "admin"}),
    "publish": frozenset({"secretary", "supervisor", "admin"}),
}
"""Who attaches at each stage: the community its whistle's and its after photos, departments
their work, the lead (or a supervisor) the result."""

STAGE_STATUSES: dict[str, frozenset[str]] = {
    "raise": frozenset({"raised", "routed", "in_progress"}),
    "progress": frozenset({"routed", "in_progress"}),
    "resolution": frozenset({"routed", "in_progress", "resolved", "closed"}),
    "publish": frozenset({"resolved", "closed"}),
}
"""The case statuses in which a stage takes photos."""


class Photo(Frozen):
    """One stored photo: its content hash, size and type (as the blob store measured them)."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the bytes, hex.")
    size: int = Field(ge=1, description="Bytes of the original.")
    content_type: PhotoType


class AttachPhotos(Command):
    """附图: attach uploaded photos to the case at a stage: raise, progress, resolution, publish."""

    ROLES: ClassVar[frozenset[Role]] = frozenset(
        {"secretary", "liaison", "supervisor", "admin", "system"}
    )
    ACTS_FOR: ClassVar[ActsFor | None] = "department"
    type: Literal["AttachPhotos"] = "AttachPhotos"
    stage: PhotoStage
    photos: tuple[Photo, ...] = Field(min_length=1, max_length=MAX_PHOTOS)
    department: str | None = Field(
        default=None,
        max_length=128,
        pattern=r"^[a-z0-9_.]+$",
        description="The department a liaison attaches for (its own, filled by the API).",
    )
    note: str = Field(default="", max_length=2000)


class PhotosAttached(Event):
    """Photos were attached at ``stage``: hash, size and type each; the actor uploaded them."""

    CE_NAME: ClassVar[str] = "photos_attached"
    type: Literal["PhotosAttached"] = "PhotosAttached"
    stage: PhotoStage
    photos: tuple[Photo, ...]
    department: str | None = None
    note: str = ""


def stage_key(stage: str, department: str | None) -> str:
    """Where a stage's photos are counted: a department's progress apart from the others'."""
    return f"{stage}:{department}" if stage == "progress" and department else stage


@decides(AttachPhotos)
def _attach(ctx: Ctx, s: CaseState, c: AttachPhotos) -> Decision:
    role = c.actor.role
    if role not in STAGE_ROLES[c.stage]:
        allowed = joined(sorted(STAGE_ROLES[c.stage]))
        return ctx.reject("photo_stage_role", stage=c.stage, role=role, allowed=allowed)
    if s.status not in STAGE_STATUSES[c.stage]:
        return ctx.reject("photo_stage_closed", stage=c.stage, status=s.status)
    if role == "liaison":
        department = c.department or ""
        if department not in s.assignments:
            return ctx.reject(
                "not_routed_to_department", departments=department, routed=joined(s.assignments)
            )
        if c.stage == "resolution" and department != s.lead:
            return ctx.reject(
                "not_your_department", own_department=department, department=s.lead or ""
            )
    key = stage_key(c.stage, c.department)
    attached = s.photos.get(key, ())
    new: list[Photo] = []
    for photo in c.photos:
        if photo.sha256 not in attached and all(p.sha256 != photo.sha256 for p in new):
            new.append(photo)
    if not new:
        return ctx.reject("photos_already_attached", stage=c.stage)
    if len(attached) + len(new) > MAX_PHOTOS:
        return ctx.reject(
            "too_many_photos", stage=c.stage, limit=str(MAX_PHOTOS), attached=str(len(attached))
        )
    return ctx.emit(
        PhotosAttached, stage=c.stage, photos=tuple(new), department=c.department, note=c.note
    )


@evolves(PhotosAttached)
def _photos_attached(s: CaseState, e: PhotosAttached) -> Updates:
    key = stage_key(e.stage, e.department)
    photos = dict(s.photos)
    photos[key] = photos.get(key, ()) + tuple(p.sha256 for p in e.photos)
    return {"photos": photos}
