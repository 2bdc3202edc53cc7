"""The liaison's pages over the real service (worker, projector, API processes on Kafka and
PostgreSQL): routed cases appear in the inbox by nearest deadline; 签收 in one tap (htmx,
CSRF header) meets the sign-for clock; a 退单 without a reason shows the message beside the
field and changes nothing; a refused command shows the decider's catalogue message; the lead
resolves; 进展 with a photo shows it on the liaison's and the secretary's case pages, a file
that is not a photo is refused beside the field and changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
from PIL import Image

from tests.conftest import unique_name
from tests.integration.web.conftest import CHEAP, CSRF
from tests.service_fixtures import port_from_env
from tests.stack import JINHAI, Stack, eventually, running_stack, scratch_database
from tests.unit.test_photos import phone_photo
from whistle.domain.rejections import render
from whistle.web.accounts import PgAccounts
from whistle.web.pages import LANG_COOKIE

pytestmark = pytest.mark.integration

GRID = f"{JINHAI}.g01"  # the grid's rule: 城管 (urban_management) leads
PASSWORD = "liaison-pass-2026"
PORTS = {"WHISTLE_HTTP_PORT": port_from_env("WHISTLE_TEST_HTTP_PORT"),
         "WHISTLE_WORKER_WEB_PORT": port_from_env("WHISTLE_TEST_WORKER_PORT")}  # fmt: skip
"""Ports given by the environment (a shared machine assigns them), else free ones."""


PEOPLE = {
    "urban-page": ("liaison", {"department": "urban_management"}),
    "civil-page": ("liaison", {"department": "civil_affairs"}),  # not routed parking cases
    "jinhai-page": ("secretary", {"area": JINHAI}),
}
"""Who logs in on the pages: user id → role and scope."""


async def _people(dsn: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        accounts = PgAccounts(pool, passwords=CHEAP)
        for user_id, (role, scope) in PEOPLE.items():
            await accounts.create_person(user_id, user_id, role, name=user_id, actor="test",
                                         **scope)  # type: ignore[arg-type]  # fmt: skip
            await accounts.set_password(user_id, PASSWORD)
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """worker + projector + API on a fresh database and topics; ``PEOPLE`` log in."""
    tmp = tmp_path_factory.mktemp("liaison")
    with (
        scratch_database(database_url, "liaison") as dsn,
        running_stack(tmp, kafka_bootstrap, dsn, unique_name("liaison"), extra_env=PORTS) as run,
    ):
        asyncio.run(_people(dsn))
        yield run


def _token(page: str) -> str:
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


def _signed_in(stack: Stack, user_id: str) -> httpx.Client:
    """A browser-like client logged in on the login page as ``user_id``."""
    page = httpx.Client(base_url=stack.base, timeout=90)
    login = page.get("/login")
    answer = page.post(
        "/login",
        data={"csrf_token": _token(login.text), "username": user_id, "password": PASSWORD},
    )
    assert answer.status_code == 303, answer.text
    return page


def _order(inbox: str, case_ids: list[str]) -> list[str]:
    """The case ids in the order the inbox lists them."""
    at = {i: inbox.find(f'id="case-{i}"') for i in case_ids}
    assert all(p >= 0 for p in at.values()), at
    return sorted(case_ids, key=lambda i: at[i])


def test_the_liaison_signs_for_disputes_and_resolves_on_the_pages(stack: Stack) -> None:
    api = httpx.Client(base_url=stack.base, timeout=90)
    token = {"Authorization": f"Bearer {stack.tokens['liaison']}"}
    raiser = {"Authorization": f"Bearer {stack.tokens['secretary']}"}

    def case(case_id: str) -> dict[str, Any]:
        got = api.get(f"/v1/cases/{case_id}", headers=token)
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    ids = []
    for title in ("滨海步道违停", "金海路占道经营"):
        body = {"category": "parking", "title": title, "address": "金海社区", "grid": GRID}
        raised = api.post("/v1/cases", json=body, headers=raiser)
        assert raised.status_code == 201, raised.text
        ids.append(raised.json()["case_id"])
    older, newer = ids
    for case_id in ids:
        eventually(lambda i=case_id: api.get(f"/v1/cases/{i}", headers=token).status_code == 200)

    def nearest(case_id: str) -> datetime:
        own = [k for k in case(case_id)["clocks"] if k["department"] == "urban_management"]
        clocks = [k for k in own if k["status"] == "running"]
        return min(datetime.fromisoformat(k["due_at"]) for k in clocks)

    page = _signed_in(stack, "urban-page")

    inbox = page.get("/liaison")
    assert inbox.status_code == 200
    assert "新派单" in inbox.text and "剩 " in inbox.text
    by_deadline = sorted(ids, key=nearest)
    assert _order(inbox.text, ids) == by_deadline == [older, newer]

    # a refused command shows the decider's own message beside the form, nothing changes
    before = len(api.get(f"/v1/cases/{newer}/timeline", headers=token).json()["events"])
    work = page.get(f"/liaison/cases/{newer}")
    refused = page.post(
        f"/liaison/cases/{newer}/resolve",
        data={"csrf_token": _token(work.text), "outcome": "solved", "summary": "已清理"},
    )
    assert refused.status_code == 409, refused.text
    message = re.search(r'id="e-resolve-form" role="alert">([^<]+)<', refused.text)
    assert message, refused.text
    expected = render("not_acknowledged", {"department": "urban_management"}, "zh")
    assert message.group(1) == expected == "城市管理局（城管）须先签收。", message.group(1)

    # 签收 in one tap: the htmx request carries the CSRF token as a header
    signed = page.post(
        f"/liaison/cases/{newer}/acknowledge",
        data={"from": "inbox"},
        headers={"X-CSRF-Token": _token(inbox.text), "HX-Request": "true"},
    )
    assert signed.status_code == 303, signed.text
    assert signed.headers["location"].startswith(f"/liaison?signed={newer}")
    ack = [k for k in case(newer)["clocks"]
           if k["clock"] == "ack" and k["department"] == "urban_management"]  # fmt: skip
    assert [k["status"] for k in ack] == ["met"], ack
    lead = next(a for a in case(newer)["assignments"] if a["department"] == "urban_management")
    assert lead["acknowledged_at"] is not None
    # signed for, the case's nearest deadline is now a later clock: it moves below the other
    inbox = page.get("/liaison")
    assert _order(inbox.text, ids) == sorted(ids, key=nearest) == [older, newer]
    row = inbox.text[inbox.text.find(f'id="case-{newer}"') :]
    assert f'id="ack-{newer}"' not in row.split("</tr>")[0]

    # 退单 without a reason: the field's message beside it, the case unchanged
    events = len(api.get(f"/v1/cases/{older}/timeline", headers=token).json()["events"])
    work = page.get(f"/liaison/cases/{older}")
    disputed = page.post(
        f"/liaison/cases/{older}/dispute",
        data={"csrf_token": _token(work.text), "reason": "", "text": "不归我们管"},
    )
    assert disputed.status_code == 422, disputed.text
    assert 'id="f-dispute-reason" name="reason" aria-invalid="true"' in disputed.text
    assert re.search(r'id="e-dispute-reason" role="alert">[^<]+<', disputed.text)
    assert "不归我们管" in disputed.text, "what was typed is kept"
    after = len(api.get(f"/v1/cases/{older}/timeline", headers=token).json()["events"])
    assert after == events

    # the lead resolves the signed-for case (办结)
    work = page.get(f"/liaison/cases/{newer}")
    resolved = page.post(
        f"/liaison/cases/{newer}/resolve",
        data={"csrf_token": _token(work.text), "outcome": "solved", "summary": "车辆已劝离"},
    )
    assert resolved.status_code == 303, resolved.text
    assert case(newer)["status"] == "resolved"
    shown = page.get(resolved.headers["location"])
    assert "已办结" in shown.text and "车辆已劝离" in shown.text
    assert "车辆已劝离 · 已解决" in shown.text, "the log shows the outcome in words, not its code"
    timeline = api.get(f"/v1/cases/{newer}/timeline", headers=token).json()["events"]
    assert len(timeline) > before
    api.close()
    page.close()


def test_progress_with_a_photo_shows_on_the_liaison_and_secretary_case_pages(
    stack: Stack,
) -> None:
    api = httpx.Client(base_url=stack.base, timeout=90)
    token = {"Authorization": f"Bearer {stack.tokens['liaison']}"}
    raiser = {"Authorization": f"Bearer {stack.tokens['secretary']}"}
    body = {"category": "parking", "title": "金海路口违停", "address": "金海社区", "grid": GRID}
    raised = api.post("/v1/cases", json=body, headers=raiser)
    assert raised.status_code == 201, raised.text
    case_id = raised.json()["case_id"]
    eventually(lambda: api.get(f"/v1/cases/{case_id}", headers=token).status_code == 200)

    def events() -> list[dict[str, Any]]:
        got = api.get(f"/v1/cases/{case_id}/timeline", headers=token)
        assert got.status_code == 200, got.text
        found: list[dict[str, Any]] = got.json()["events"]
        return found

    page = _signed_in(stack, "urban-page")
    work = page.get(f"/liaison/cases/{case_id}")
    assert 'enctype="multipart/form-data"' in work.text
    assert 'id="f-progress-photos" name="photos" type="file" multiple' in work.text
    assert "另行开发" not in work.text and "placeholder" not in work.text
    signed = page.post(f"/liaison/cases/{case_id}/acknowledge",
                       data={"csrf_token": _token(work.text)})  # fmt: skip
    assert signed.status_code == 303, signed.text

    # a file that is not a photo: the message beside the field, what was typed kept, and
    # nothing sent (the timeline is unchanged, no progress, no photo)
    before = events()
    work = page.get(f"/liaison/cases/{case_id}")
    refused = page.post(
        f"/liaison/cases/{case_id}/progress",
        data={"csrf_token": _token(work.text), "note": "已到场劝离"},
        files=[("photos", ("a.jpg", b"not a photo at all", "image/jpeg"))],
    )
    assert refused.status_code == 422, refused.text
    assert 'id="f-progress-photos" name="photos" type="file" multiple' in refused.text
    assert 'aria-describedby="h-progress-photos e-progress-photos" aria-invalid="true"' in (
        refused.text
    )
    assert re.search(r'id="e-progress-photos" role="alert">照片 a\.jpg 未能上传：只接受',
                     refused.text), refused.text  # fmt: skip
    assert "已到场劝离" in refused.text, "what was typed is kept"
    assert events() == before
    assert 'id="case-photos"' not in page.get(f"/liaison/cases/{case_id}").text

    # 进展 with a JPEG: recorded, the photo attached at the progress stage for 城管
    jpeg = phone_photo()  # a JPEG made with Pillow as a phone takes it (over the 64 KB default)
    work = page.get(f"/liaison/cases/{case_id}")
    done = page.post(
        f"/liaison/cases/{case_id}/progress",
        data={"csrf_token": _token(work.text), "note": "已清理占道车辆"},
        files=[("photos", ("work.jpg", jpeg, "image/jpeg"))],
    )
    assert done.status_code == 303, done.text
    kinds = [e["type"] for e in events()]
    assert kinds[len(before) :] == ["ProgressReported", "PhotosAttached"], kinds
    case = api.get(f"/v1/cases/{case_id}", headers=token).json()
    sha = hashlib.sha256(jpeg).hexdigest()
    attached = [(a["sha256"], a["stage"], a["department"]) for a in case["attachments"]]
    assert attached == [(sha, "progress", "urban_management")]

    src = f"/cases/{case_id}/photos/{sha}"
    shown = page.get(done.headers["location"])
    assert f'<img src="{src}" alt="办理中照片 1"' in shown.text, shown.text
    assert "已清理占道车辆" in shown.text
    thumb = page.get(src)
    assert thumb.status_code == 200 and thumb.headers["content-type"].startswith("image/")
    assert Image.open(io.BytesIO(thumb.content)).size[0] > 0
    page.cookies.set(LANG_COOKIE, "en")
    english = page.get(f"/liaison/cases/{case_id}")
    assert f'<img src="{src}" alt="Work in progress photo 1"' in english.text

    # the community's secretary sees it on her case page; a department not routed does not
    secretary = _signed_in(stack, "jinhai-page")
    on_hers = secretary.get(f"/cases/{case_id}")
    assert f'<img src="{src}" alt="办理中照片 1"' in on_hers.text, on_hers.text
    assert secretary.get(src).content == thumb.content
    other = _signed_in(stack, "civil-page")
    assert other.get(src).status_code == 404
    assert other.get(f"/liaison/cases/{case_id}").status_code == 404
    for client in (api, page, secretary, other):
        client.close()
