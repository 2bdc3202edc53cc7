"""The public's pages and the whistle form's photos and duplicates on the real stack (`whistle
api`, worker and projector on Kafka and PostgreSQL): a secretary raises a whistle with a
distinctive resident (name, phone, door-number address) and a photo taken with GPS on; a
second similar draft is shown the first as a likely duplicate, and "the same problem" joins
it instead of raising a new one; the case is resolved, called back and published with an
after photo; then, without logging in, the 晒事 page, its filters and the case's status page
show the summary and the photo, and none of the resident's strings nor the photo's location
appear in any public answer."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import asyncpg
import httpx
import pytest

from projections.migrate import LIVE_SCHEMA
from tests.conftest import unique_name
from tests.integration.api.test_api_with_services import eventually
from tests.integration.web.test_secretary_pages import (
    CASE_LOCATION,
    JINHAI,
    PASSWORD,
    _csrf,
    _people,
    _post,
    _token,
)
from tests.service_fixtures import isolated_env, port_from_env, settings_of, supervised
from tests.unit.test_photos import phone_photo
from whistle.attachments import photos
from whistle.domain import load_rules
from whistle.topics import ensure_topics

pytestmark = pytest.mark.integration

NAME, PHONE, DOOR = "欧阳翠花", "13912345678", "滨海步道17号402室"
PRIVATE = (NAME, PHONE, DOOR, "17号402", "402室", "24.7310", "118.1520")


async def test_published_results_are_public_and_carry_no_personal_data(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, fresh_database, unique_name("t"))
    env["WHISTLE_REPLY_TIMEOUT_S"] = "60"
    env["WHISTLE_HTTP_PORT"] = port_from_env("WHISTLE_TEST_HTTP_PORT")
    env["WHISTLE_WORKER_WEB_PORT"] = port_from_env("WHISTLE_TEST_WORKER_PORT")
    settings = settings_of(env)
    await ensure_topics(settings)
    lead = load_rules().match("parking", JINHAI).lead
    lead_token = await _people(fresh_database, lead)
    base = f"http://127.0.0.1:{settings.http_port}"
    before = phone_photo(size=(640, 480))
    assert photos.location_of(before)
    with supervised(tmp_path, env) as supervisor:
        supervisor.start("worker", "worker")
        supervisor.start("projector", "projector")
        supervisor.start("api", "api")
        await asyncio.to_thread(supervisor.wait_ready, f"{base}/healthz")
        async with httpx.AsyncClient(base_url=base, timeout=90) as http:
            login = await _post(
                http, "/login", "/login", {"username": "jinhai-sec", "password": PASSWORD}
            )
            assert login.status_code == 303, login.text
            form = await http.get("/whistle")
            assert 'id="f-photos" name="photos" type="file" multiple' in form.text
            assert "placeholder" not in form.text

            draft = {
                "category": "parking", "title": "滨海步道违停堵住消防通道",
                "address": DOOR, "grid": "tongan.datong.jinhai.g01", "urgency": "general",
                "lat": "24.7310", "lon": "118.1520",
                "requester_name": NAME, "requester_phone": PHONE,
            }  # fmt: skip
            csrf = await _csrf(http, "/whistle")
            not_photo = await http.post(
                "/whistle",
                data={"csrf_token": csrf, **draft},
                files=[("photos", ("a.jpg", b"not a photo at all", "image/jpeg"))],
            )
            assert not_photo.status_code == 422, not_photo.text
            assert re.search(
                r'id="e-photos" role="alert">照片 a.jpg 未能上传：只接受', not_photo.text
            )
            too_many = await http.post(
                "/whistle",
                data={"csrf_token": csrf, **draft},
                files=[("photos", (f"{i}.jpg", before, "image/jpeg")) for i in range(10)],
            )
            assert too_many.status_code == 422
            assert 'id="e-photos" role="alert">最多 9 张照片，您选了 10 张' in too_many.text
            raised = await http.post(
                "/whistle",
                data={"csrf_token": csrf, **draft},
                files=[("photos", ("walk.jpg", before, "image/jpeg"))],
            )
            assert raised.status_code == 303, raised.text
            found = CASE_LOCATION.match(raised.headers["location"])
            assert found, raised.headers["location"]
            case_id = found.group(1)
            path = f"/cases/{case_id}"

            async def routed() -> str | None:
                page = await http.get(path)
                # the photo is attached by a second command after the raise: wait for both
                shown = "已派单" in page.text and "/photos/" in page.text
                return page.text if shown else None

            case_page = await eventually(routed)
            thumbs = re.findall(r'src="(/cases/[^"]+/photos/[0-9a-f]{64})"', case_page)
            assert len(thumbs) == 1, case_page
            thumb = await http.get(thumbs[0])
            assert thumb.status_code == 200 and thumb.content.startswith(b"\xff\xd8")
            assert not photos.location_of(thumb.content)
            conn = await asyncpg.connect(fresh_database)
            try:
                stages = await conn.fetch(
                    f"SELECT stage FROM {LIVE_SCHEMA}.attachments WHERE case_id = $1", case_id
                )
                lead_now = await conn.fetchval(
                    f"SELECT lead_department FROM {LIVE_SCHEMA}.cases WHERE case_id = $1", case_id
                )
            finally:
                await conn.close()
            assert [r["stage"] for r in stages] == ["raise"]

            # a second, similar draft: the first is suggested (htmx partial and full page)
            second = {**draft, "title": "步道上乱停车，消防通道被堵", "requester_name": "",
                      "requester_phone": "", "lat": "", "lon": ""}  # fmt: skip
            csrf = await _csrf(http, "/whistle")
            partial = await http.post(
                "/whistle/similar",
                data=second,
                headers={"HX-Request": "true", "X-CSRF-Token": csrf},
            )
            assert partial.status_code == 200, partial.text
            assert partial.text.lstrip().startswith('<section id="duplicates"')
            assert f'id="join-{case_id}"' in partial.text
            assert "可能是同一问题" in partial.text
            whole = await http.post("/whistle/similar", data={"csrf_token": csrf, **second})
            assert f'value="{case_id}"' in whole.text and 'id="whistle-form"' in whole.text
            other = await http.post(
                "/whistle/similar",
                data={"csrf_token": csrf, **second, "title": "路灯不亮", "address": "金海公园"},
                headers={"HX-Request": "true"},
            )
            assert 'id="no-duplicates"' in other.text
            joined = await http.post(
                "/whistle", data={"csrf_token": csrf, **second, "join": case_id}
            )
            assert joined.status_code == 303, joined.text
            assert joined.headers["location"].startswith(f"/cases/{case_id}?joined=WH-")

            async def merged() -> str | None:
                page = await http.get(path)
                return page.text if "合并重复案件" in page.text else None

            await eventually(merged)

            # resolved by the lead, called back and published with an after photo
            if lead_now != lead:
                lead_token = await _token(fresh_database, lead_now)
            bearer = {"Authorization": f"Bearer {lead_token}"}
            ack = await http.post(f"/v1/cases/{case_id}/acknowledge", json={}, headers=bearer)
            assert ack.status_code == 200, ack.text
            done = await http.post(
                f"/v1/cases/{case_id}/resolve",
                json={"outcome": "solved", "summary": f"已联系{NAME}，车辆劝离"},
                headers=bearer,
            )
            assert done.status_code == 200, done.text

            async def resolved() -> str | None:
                page = await http.get(path)
                return page.text if "待回访" in page.text else None

            await eventually(resolved)
            callback = await _post(
                http, f"{path}/callback", path,
                {"solved": "yes", "satisfied": "yes", "score": "5", "fault": "none"},
            )  # fmt: skip
            assert callback.status_code == 303, callback.text
            after = phone_photo(size=(480, 360))
            csrf = await _csrf(http, path)
            published = await http.post(
                f"{path}/publish",
                data={"csrf_token": csrf, "summary": "滨海步道违停已清理，消防通道畅通。"},
                files=[("photos", ("after.jpg", after, "image/jpeg"))],
            )
            assert published.status_code == 303, published.text

        async with httpx.AsyncClient(base_url=base, timeout=30) as anonymous:

            async def listed() -> str | None:
                page = await anonymous.get("/public")
                shown = "消防通道畅通" in page.text and "/photos/" in page.text
                return page.text if shown else None

            listing = await eventually(listed)
            assert f'id="pub-{case_id}"' in listing
            answers = {"/public": listing}
            for url in (
                f"/public?community={JINHAI}",
                "/public?category=parking",
                f"/public/cases/{case_id}",
                "/public?community=tongan.datong.fengxiang",
            ):
                response = await anonymous.get(url)
                assert response.status_code == 200, (url, response.text)
                answers[url] = response.text
            assert f'id="pub-{case_id}"' in answers[f"/public?community={JINHAI}"]
            assert f'id="pub-{case_id}"' in answers["/public?category=parking"]
            assert f'id="pub-{case_id}"' not in answers["/public?community=tongan.datong.fengxiang"]
            status = answers[f"/public/cases/{case_id}"]
            assert re.search(r'id="public-status">[^<]*[\u4e00-\u9fff]', status)
            assert "消防通道畅通" in status and "金海" in status
            photo_urls = sorted(set(re.findall(r'src="(/v1/public/cases/[^"]+)"', status)))
            assert len(photo_urls) == 1, status
            image = await anonymous.get(photo_urls[0])
            assert image.status_code == 200
            assert image.content.startswith(b"\xff\xd8")
            assert not photos.location_of(image.content)  # the copy without location
            for url, text in answers.items():
                for secret in PRIVATE:
                    assert secret not in text, (url, secret)
            anonymous.cookies.set("whistle_lang", "en")
            english = await anonymous.get(f"/public/cases/{case_id}")
            assert "Published on" in english.text
            assert (await anonymous.get(thumbs[0])).status_code == 303  # to the login page
            missing = await anonymous.get("/public/cases/WH-20261202-NNNNNNNNNN")
            assert missing.status_code == 404
