"""附图 on the running service, with the blob store in a folder and on a real S3-compatible
server (moto's, started here): upload → attach → projected → fetched.

Worker, projector and API run on Kafka and PostgreSQL. A secretary uploads a phone photo that
carries its GPS position, raises a whistle with it, and the case lists it; the case's parties
fetch the original (location included), everybody else gets 404; thumbnails and the public copy
carry no location. The same bytes uploaded by two people are stored once. Refusals are RFC 9457
problems in Chinese, or English on request. An Open311 request's ``media_url`` is fetched and
attached.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from PIL import Image

from tests.conftest import unique_name
from tests.integration.api.test_rejections_with_services import EN, Client, chinese, eventually
from tests.service_fixtures import restartable_port
from tests.stack import Stack, running_stack, scratch_database
from tests.unit.test_photos import phone_photo
from whistle.api.account_store import PgUsers
from whistle.attachments import photos
from whistle.domain import load_rules

pytestmark = pytest.mark.integration

JINHAI = "tongan.datong.jinhai"
API_PORT, S3_PORT, MEDIA_PORT = (restartable_port() for _ in range(3))
"""This suite's ports (the S3 server's and the media_url server's are fixed here)."""
MOTO = os.path.join(os.path.dirname(sys.executable), "moto_server")
CASE = "/v1/cases/{case_id}"
PHOTO = CASE + "/attachments/{sha256}"
WHO = ("secretary", "liaison", "other_liaison", "supervisor", "admin", "outsider")

# (method, path) → what each caller gets on a case in 金海 routed to the lead (the liaison's
# department): the case's parties see its photos; a liaison of another department and the
# secretary of another community get 404, as for the case itself.
PARTIES = {"secretary": 200, "liaison": 200, "supervisor": 200, "admin": 200}
MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("POST", "/v1/attachments"): dict.fromkeys(WHO, 201),
    ("GET", "/v1/attachments/{sha256}/thumbnail"): {"secretary": 200} | dict.fromkeys(
        ("liaison", "other_liaison", "supervisor", "admin", "outsider"), 404
    ),  # the uploader only, before any case holds the photo
    ("GET", PHOTO): PARTIES | {"other_liaison": 404, "outsider": 404},
    ("GET", PHOTO + "/thumbnail"): PARTIES | {"other_liaison": 404, "outsider": 404},
    ("POST", CASE + "/attachments"): {"secretary": 200, "other_liaison": 404, "outsider": 404},
    ("GET", "/v1/public/cases/{case_id}/photos/{sha256}"): {"nobody": 200},
}  # fmt: skip


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3-compatible HTTP server on 127.0.0.1 (a real server over HTTP, not a mock)."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [MOTO, "-H", "127.0.0.1", "-p", str(S3_PORT)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{S3_PORT}"
    try:
        for _ in range(100):
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise AssertionError(log.read_text())
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(10)


class MediaHandler(BaseHTTPRequestHandler):
    """Serves the photos an Open311 app points at (``/photo.jpg``) and a page that is not one."""

    photo = b""

    def do_GET(self) -> None:
        body, kind = (self.photo, "image/jpeg")
        if self.path == "/page.html":
            body, kind = b"<html>no photo</html>", "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def media_server() -> Iterator[str]:
    """A web server on 127.0.0.1 with a phone photo at /photo.jpg."""
    MediaHandler.photo = phone_photo(size=(800, 600))
    server = ThreadingHTTPServer(("127.0.0.1", MEDIA_PORT), MediaHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{MEDIA_PORT}"
    finally:
        server.shutdown()
        server.server_close()


async def outsider_token(dsn: str) -> str:
    """The secretary of 芸溪社区, a neighbour of 金海 in the same street."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    assert pool is not None
    try:
        return await PgUsers(pool, 0.0).add("sec-yunxi", "secretary", area="tongan.datong.yunxi")
    finally:
        await pool.close()


def upload(api: Client, who: str, data: bytes, name: str = "IMG_0001.JPG", **headers: str) -> Any:
    return api.http.post(
        "/v1/attachments",
        files={"file": (name, data, "application/octet-stream")},
        headers=api.auth(who) | headers,
    )


async def photo_journey(api: Client, media: str, lead: str) -> None:
    jpeg = phone_photo()
    assert photos.location_of(jpeg)
    first = await upload(api, "secretary", jpeg)
    assert first.status_code == 201, first.text
    sent = first.json()
    sha = sent["sha256"]
    assert sha == photos.sha256_of(jpeg) and sent["stored"] == "new"
    assert (sent["size"], sent["content_type"]) == (len(jpeg), "image/jpeg")
    for who in WHO[1:]:  # the same bytes from everybody: stored once
        again = await upload(api, who, jpeg, name="other-name.jpg")
        assert (again.status_code, again.json()["stored"]) == (201, "existing"), again.text

    thumb_route = MATRIX[("GET", "/v1/attachments/{sha256}/thumbnail")]
    other = await upload(api, "secretary", phone_photo("PNG", size=(300, 200)), "s.png")
    other_sha = other.json()["sha256"]
    for who, status in thumb_route.items():
        got = await api.http.get(f"/v1/attachments/{other_sha}/thumbnail", headers=api.auth(who))
        assert got.status_code == status, (who, got.text)
    got = await api.http.get(sent["thumbnail_url"], headers=api.auth("secretary"))
    assert got.headers["content-type"] == "image/jpeg" and photos.location_of(got.content) == {}

    gif = await upload(api, "secretary", b"GIF89a" + bytes(200), "a.gif")
    assert (gif.status_code, gif.json()["code"]) == (422, "photo_type")
    assert gif.headers["content-type"] == "application/problem+json"
    assert chinese(gif.json()["detail"]).startswith("只接受 JPEG、PNG 或 HEIC 照片")
    gif_en = await upload(api, "secretary", b"GIF89a" + bytes(200), "a.gif", **EN)
    assert gif_en.json()["detail"].startswith("Only JPEG, PNG or HEIC photos")
    huge = await upload(api, "secretary", b"\xff\xd8\xff" + bytes(10 * 1024 * 1024))
    assert huge.status_code == 413, huge.text
    assert chinese(huge.json()["detail"]).endswith("超过 10485760 字节上限")
    broken = await upload(api, "secretary", jpeg[: len(jpeg) // 3])
    assert (broken.status_code, broken.json()["code"]) == (422, "photo_unreadable")

    body = {"category": "parking", "title": "海堤路违停", "address": "金海社区海堤路"}
    nine_plus = await api.post("secretary", "/v1/cases", body | {"photos": [sha] * 10})
    assert nine_plus.status_code == 422 and chinese(nine_plus.json()["errors"][0]["message"])
    strange = await api.post("secretary", "/v1/cases", body | {"photos": ["ab" * 32]})
    assert (strange.status_code, strange.json()["detail"]) == (
        422,
        f"照片 {'ab' * 32} 不是您上传的：请先上传（POST /v1/attachments）",
    )
    raised = await api.post("secretary", "/v1/cases", body | {"photos": [sha]})
    assert raised.status_code == 201, raised.text
    assert "PhotosAttached" in [e["type"] for e in raised.json()["events"]]
    case_id = raised.json()["case_id"]
    await api.status(case_id, "routed", "admin")

    async def listed() -> list[dict[str, Any]]:
        got = await api.http.get(f"/v1/cases/{case_id}", headers=api.auth("secretary"))
        items: list[dict[str, Any]] = got.json()["attachments"]
        return items

    [row] = await eventually(listed)
    assert (row["sha256"], row["stage"], row["size"]) == (sha, "raise", len(jpeg))
    assert (row["content_type"], row["attached_by"]) == ("image/jpeg", "sec-jinhai")
    assert row["url"] == PHOTO.format(case_id=case_id, sha256=sha)

    for (method, template), expected in MATRIX.items():
        if method != "GET" or not template.startswith(CASE):
            continue
        path = template.format(case_id=case_id, sha256=sha)
        for who, status in expected.items():
            got = await api.http.get(path, headers=api.auth(who))
            assert got.status_code == status, (who, path, got.text)
            if status == 200 and template == PHOTO:
                assert got.content == jpeg  # the parties see the original, location included
            elif status == 200:
                assert photos.location_of(got.content) == {}
            else:
                assert chinese(got.json()["detail"])
    unknown = await api.http.get(
        PHOTO.format(case_id=case_id, sha256=other_sha), headers=api.auth("secretary")
    )
    assert unknown.status_code == 404  # a photo the case does not hold

    png = phone_photo("PNG", size=(320, 240))
    mine = (await upload(api, "liaison", png, "work.png")).json()
    progress = {"stage": "progress", "photos": [_ref(mine)], "note": "清理前"}
    attach = CASE.format(case_id=case_id) + "/attachments"
    not_theirs = await api.post("other_liaison", attach, progress)
    assert not_theirs.status_code == 404  # a department the case is not routed to
    stolen = await api.post(
        "liaison", attach, {"stage": "progress", "photos": [_ref(other.json())]}
    )
    assert (stolen.status_code, stolen.json()["detail"]) == (
        422,
        f"照片 {other_sha} 不是您上传的：请先上传（POST /v1/attachments）",
    )
    wrong_stage = await api.post("secretary", attach, progress | {"photos": [_ref(sent)]})
    assert (wrong_stage.status_code, wrong_stage.json()["code"]) == (403, "photo_stage_role")
    assert chinese(wrong_stage.json()["detail"])
    accepted = await api.post("liaison", attach, progress)
    assert accepted.status_code == 200, accepted.text
    [event] = accepted.json()["events"]
    assert event["type"] == "PhotosAttached" and event["department"] == lead
    assert set(event["photos"][0]) == {"sha256", "size", "content_type"}
    more = await api.post("secretary", attach, {"stage": "raise", "photos": [_ref(other.json())]})
    assert more.status_code == 200, more.text
    await eventually(lambda: _count(listed, 3))

    await publish_with_after_photos(api, case_id, attach, lead)
    await media_url_attached(api, media)


def _ref(uploaded: dict[str, Any]) -> dict[str, Any]:
    return {k: uploaded[k] for k in ("sha256", "size", "content_type")}


async def _count(listed: Any, n: int) -> bool:
    return len(await listed()) == n


async def publish_with_after_photos(api: Client, case_id: str, attach: str, lead: str) -> None:
    """The lead resolves, the secretary calls back, attaches an after photo and publishes:
    the public sees that photo without its location, and no other."""
    case = CASE.format(case_id=case_id)
    ack = await api.post("liaison", case + "/acknowledge", {"department": lead})
    assert ack.status_code == 200, ack.text
    resolve = await api.post("liaison", case + "/resolve", {"outcome": "solved", "summary": "已清"})
    assert resolve.status_code == 200, resolve.text
    called = await api.post(
        "secretary", case + "/callback", {"solved": True, "satisfied": True, "score": 5}
    )
    assert called.status_code == 200, called.text
    after = phone_photo(size=(640, 480))
    uploaded = (await upload(api, "secretary", after, "after.jpg")).json()
    put = await api.post("secretary", attach, {"stage": "publish", "photos": [_ref(uploaded)]})
    assert put.status_code == 200, put.text
    published = await api.post("secretary", case + "/publish", {"summary": "违停已清理"})
    assert published.status_code == 200, published.text
    public = f"/v1/public/cases/{case_id}/photos/{uploaded['sha256']}"

    async def shown() -> httpx.Response | None:
        got = await api.http.get(public)
        return got if got.status_code == 200 else None

    got = await eventually(shown)
    assert photos.location_of(got.content) == {} and photos.location_of(after)
    with Image.open(io.BytesIO(got.content)) as image:
        assert image.size == (640, 480)
    raise_photo = (await api.http.get(case, headers=api.auth("admin"))).json()["attachments"][0]
    hidden = await api.http.get(f"/v1/public/cases/{case_id}/photos/{raise_photo['sha256']}")
    assert hidden.status_code == 404  # the whistle's own photos are not published


async def media_url_attached(api: Client, media: str) -> None:
    """Open311: the photo at ``media_url`` is fetched, stored and attached to the whistle."""
    form = {
        "api_key": api.stack.tokens["secretary"],
        "service_code": "parking",
        "address_string": "金海社区海堤路",
        "description": "海堤路违停（app）",
        "media_url": f"{media}/photo.jpg",
    }
    created = await api.http.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 200, created.text
    case_id = created.json()[0]["service_request_id"]

    async def listed() -> list[dict[str, Any]]:
        got = await api.http.get(f"/v1/cases/{case_id}", headers=api.auth("secretary"))
        items: list[dict[str, Any]] = got.json().get("attachments", []) if got.is_success else []
        return items

    [row] = await eventually(listed)
    assert row["sha256"] == photos.sha256_of(MediaHandler.photo) and row["stage"] == "raise"
    page = await api.http.post(
        "/open311/v2/requests.json", data=form | {"media_url": f"{media}/page.html"}
    )
    assert page.status_code == 422 and chinese(page.json()[0]["description"])


def run(stack: Stack, dsn: str, media: str, lead: str) -> None:
    async def scenario() -> None:
        stack.tokens["outsider"] = await outsider_token(dsn)
        async with httpx.AsyncClient(base_url=stack.base, timeout=60) as http:
            await photo_journey(Client(stack, http), media, lead)

    asyncio.run(scenario())


def test_photos_in_a_folder(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, media_server: str
) -> None:
    lead = load_rules().match("parking", JINHAI).lead
    env = {
        "WHISTLE_HTTP_PORT": str(API_PORT),
        "WHISTLE_BLOB_DIR": str(tmp_path / "blobs"),
        "WHISTLE_BLOB_MEDIA_URL_PRIVATE_OK": "true",  # the media server is on loopback
    }
    with (
        scratch_database(database_url, "photos") as dsn,
        running_stack(
            tmp_path, kafka_bootstrap, dsn, unique_name("photos"), extra_env=env, lead=lead
        ) as stack,
    ):
        run(stack, dsn, media_server, lead)
    originals = list((tmp_path / "blobs" / "originals").rglob("*"))
    assert len([p for p in originals if p.is_file()]) == 5  # jpeg, png ×2, after, media


def test_photos_on_s3(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, media_server: str, s3_server: str
) -> None:
    lead = load_rules().match("parking", JINHAI).lead
    bucket = unique_name("photos")
    env = {
        "WHISTLE_HTTP_PORT": str(API_PORT + 3),
        "WHISTLE_BLOB_STORE": "s3",
        "WHISTLE_BLOB_S3_ENDPOINT_URL": s3_server,
        "WHISTLE_BLOB_S3_BUCKET": bucket,
        "WHISTLE_BLOB_S3_ACCESS_KEY_ID": "whistle",
        "WHISTLE_BLOB_S3_SECRET_ACCESS_KEY": "whistle-secret",
        "WHISTLE_BLOB_MEDIA_URL_PRIVATE_OK": "true",
    }
    with (
        scratch_database(database_url, "photos") as dsn,
        running_stack(
            tmp_path, kafka_bootstrap, dsn, unique_name("photos"), extra_env=env, lead=lead
        ) as stack,
    ):
        run(stack, dsn, media_server, lead)
    listed = httpx.get(f"{s3_server}/{bucket}?list-type=2&prefix=originals/", timeout=10)
    assert listed.status_code == 200 and listed.text.count("<Key>originals/") == 5
