"""Likely duplicates of a whistle before it is raised: the form sends its draft, the answer
lists the open cases of the same community from the last 14 days that look like the same
problem (similar text, same place), so the secretary can join the original (``/duplicate``,
``/merge``) instead of raising a second case. Scorer: ``whistle.read.similarity``."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from whistle.api.deps import CurrentPrincipal, CurrentServices, require_role
from whistle.api.identity import Principal, UserRole
from whistle.api.problems import ProblemError, problem_responses, request_lang
from whistle.api.views import json_response
from whistle.domain.areas import within
from whistle.read.scope import NOBODY, Scope
from whistle.read.similarity import Reason, Text, rank

router = APIRouter(tags=["cases"])

ASKERS: tuple[UserRole, ...] = ("secretary", "supervisor", "admin")
"""Who may ask: the secretary at her form, a supervisor or an admin checking a community."""
WHY_TEXT: dict[Reason, tuple[str, str]] = {
    "similar_text": ("内容相似", "similar text"),
    "same_place": ("地点相同", "same place"),
}


class DraftPoint(BaseModel):
    """WGS-84 coordinates of the draft's problem (numbers only: ``false`` is no longitude)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Draft(BaseModel):
    """The whistle being written (the fields of ``POST /v1/cases`` that say what and where)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    community: str | None = Field(
        default=None,
        max_length=128,
        pattern=r"^[a-z0-9_.]+$",
        description="Area code of the community; a secretary's own when left out.",
    )
    category: str | None = Field(default=None, max_length=128, pattern=r"^[a-z0-9_.]+$")
    title: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=4000)
    address: str | None = Field(default=None, max_length=500)
    location: DraftPoint | None = None
    limit: int = Field(default=5, ge=1, le=20, description="At most this many candidates.")

    @model_validator(mode="after")
    def _something(self) -> Draft:
        if not (self.title.strip() or self.description.strip() or self.address or self.location):
            raise PydanticCustomError(
                "draft_empty", "give a title, a description, an address or a location"
            )
        return self


class SimilarCase(BaseModel):
    """An open case that may be the same problem."""

    case_id: str
    title: str | None = None
    status: str
    category: str | None = None
    address: str | None = None
    lead_department: str | None = None
    raised_at: datetime
    score: float = Field(ge=0, le=1, description="How alike, 0 to 1 (suggested from 0.4).")
    why: list[Reason] = Field(description="similar_text, same_place (either or both, or none).")
    why_text: str = Field(description="``why`` in the caller's language.")


class SimilarCases(BaseModel):
    """Candidates, most alike first."""

    items: list[SimilarCase]


def draft_community(principal: Principal, asked: str | None) -> str:
    """The community the draft is for: the secretary's own unless named; a named one must lie
    in the caller's area (an admin's anywhere)."""
    community = asked or (principal.area if principal.role == "secretary" else None)
    if community is None:
        raise ProblemError(422, "validation", detail_key="need_community")
    if principal.role != "admin" and not within(community, principal.area or NOBODY):
        raise ProblemError(
            403, "forbidden_role", detail_key="out_of_scope", detail_values={"what": community}
        )
    return community


@router.post(
    "/v1/whistles/similar",
    response_model=SimilarCases,
    summary="Likely duplicates of a draft whistle",
    responses=problem_responses(401, 403, 422),
    operation_id="similarCases",
)
async def similar_cases(
    request: Request, draft: Draft, principal: CurrentPrincipal, services: CurrentServices
) -> Response:
    """Open cases of the draft's community raised in the last 14 days, in the caller's scope,
    that look like the same problem, best first, each with why."""
    require_role(principal, ASKERS)
    community = draft_community(principal, draft.community)
    now = datetime.now(UTC)
    rows = await services.read.similar_candidates(Scope.of(principal), community, now)
    location = (draft.location.lat, draft.location.lon) if draft.location else None
    text = Text.of(draft.title, draft.description, draft.address, draft.category, location)
    lang = 0 if request_lang(request) == "zh" else 1
    items = []
    for row, like in rank(text, rows, draft.limit):
        items.append(
            {
                "case_id": row["case_id"],
                "title": row.get("title"),
                "status": row["status"],
                "category": row.get("category"),
                "address": row.get("address"),
                "lead_department": row.get("lead_department"),
                "raised_at": row["raised_at"],
                "score": round(like.score, 3),
                "why": list(like.why),
                "why_text": ("、" if lang == 0 else ", ").join(WHY_TEXT[w][lang] for w in like.why),
            }
        )
    return json_response({"items": items})
