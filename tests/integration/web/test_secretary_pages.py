"""The secretary's pages on the real stack (`whistle api` with the worker and the projector,
on Kafka and PostgreSQL): she raises a whistle through the form, it is routed by the rules in
force and shown on her list and on the case page; the lead department signs for it and
resolves it through the API, and she records the callback and publishes the result through
the case page. A form with a bad field answers with the message beside the field and raises
nothing."""

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
from tests.integration.web.conftest import CHEAP, CSRF
from tests.service_fixtures import isolated_env, port_from_env, settings_of, supervised
from whistle.api.account_store import PgUsers, migrate_api
from whistle.domain import load_rules
from whistle.topics import ensure_topics
from whistle.web.accounts import PgAccounts

pytestmark = pytest.mark.integration

JINHAI = "tongan.datong.jinhai"
PASSWORD = "Harbour-walk-2026"
CASE_LOCATION = re.compile(r"^/cases/(WH-\d{8}-[A-Z0-9]{10})\?raised=1$")


async def _people(dsn: str, lead: str) -> str:
    """A secretary of 金海 who logs in (``jinhai-sec``) and a token of the lead's liaison."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            await migrate_api(conn)
        accounts = PgAccounts(pool, passwords=CHEAP)
        await accounts.create_person(
            "sec-jinhai", "jinhai-sec", "secretary", area=JINHAI, name="金海书记", actor="test"
        )
        await accounts.set_password("sec-jinhai", PASSWORD)
        return await PgUsers(pool).add("lead", "liaison", department=lead)
    finally:
        await pool.close()


async def _csrf(http: httpx.AsyncClient, path: str) -> str:
    found = CSRF.search((await http.get(path)).text)
    assert found, path
    return found.group(1)


async def _post(
    http: httpx.AsyncClient, path: str, page: str, data: dict[str, str]
) -> httpx.Response:
    return await http.post(path, data={"csrf_token": await _csrf(http, page), **data})


async def _token(dsn: str, department: str) -> str:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    assert pool is not None
    try:
        return await PgUsers(pool).add("lead-now", "liaison", department=department)
    finally:
        await pool.close()


async def test_a_whistle_raised_on_the_form_is_routed_listed_called_back_and_published(
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
            assert form.status_code == 200
            assert '<optgroup label="交通">' in form.text
            assert 'value="parking"' in form.text
            assert 'value="tongan.datong.jinhai.g01"' in form.text  # grids of her community
            assert "金海社区第一网格" in form.text
            assert 'id="f-photos" name="photos" type="file"' in form.text  # test_public_pages

            bad = await _post(
                http, "/whistle", "/whistle",
                {"category": "parking", "title": "", "address": "", "urgency": "general",
                 "grid": "tongan.datong.fengxiang"},
            )  # fmt: skip
            assert bad.status_code == 422, bad.text
            assert re.search(r'id="f-title"[^>]*aria-invalid="true"', bad.text), bad.text
            assert '<p class="error" id="e-title" role="alert">' in bad.text
            assert re.search(r'id="e-address" role="alert">[^<]*地址', bad.text), bad.text
            assert re.search(r'id="e-grid" role="alert">不在所选社区内', bad.text), bad.text

            good = await _post(
                http, "/whistle", "/whistle",
                {"category": "parking", "title": "滨海步道违停", "address": "金海社区滨海步道",
                 "grid": "tongan.datong.jinhai.g01", "urgency": "general",
                 "lat": "24.7310", "lon": "118.1520",
                 "requester_name": "林阿姨", "requester_phone": "13800000000"},
            )  # fmt: skip
            assert good.status_code == 303, good.text
            found = CASE_LOCATION.match(good.headers["location"])
            assert found, good.headers["location"]
            case_id = found.group(1)
            path = f"/cases/{case_id}"

            last: list[httpx.Response] = []

            async def routed() -> str | None:
                last[:] = [await http.get(path)]
                return last[0].text if "已派单" in last[0].text else None

            try:
                case_page = await eventually(routed)
            except AssertionError:
                raise AssertionError(f"{last[0].status_code} {last[0].text[-3000:]}") from None
            assert "滨海步道违停" in case_page
            assert "金海社区第一网格" in case_page
            assert re.search(
                r'<li class="waiting"><strong>[^<]+</strong>（牵头）：待签收', case_page
            )
            assert "吹哨" in case_page and "派单" in case_page  # the timeline
            assert "剩余" in case_page  # the nearest deadline, counting down

            listing = await http.get("/cases")
            assert listing.status_code == 200
            assert listing.text.count('<li class="card case') == 1, "the bad form raised nothing"
            assert f'id="case-{case_id}"' in listing.text
            assert '<dd class="status">已派单</dd>' in listing.text
            assert re.search(
                r'<dd class="deadline"><time datetime="[^"]+"[^>]*>签收 剩余', listing.text
            )
            partial = await http.get("/cases", headers={"HX-Request": "true"})
            assert partial.text.lstrip().startswith('<div id="case-list"')

            early = await _post(
                http, f"{path}/callback", path,
                {"solved": "yes", "satisfied": "yes", "score": "5", "fault": "none"},
            )  # fmt: skip
            assert early.status_code == 409, early.text
            assert re.search(
                r'id="refused" role="alert">未能提交：[^<]*[\u4e00-\u9fff]', early.text
            )

            # the lead as the rules in force routed it (the followed configuration)
            conn = await asyncpg.connect(fresh_database)
            try:
                lead_now = await conn.fetchval(
                    f"SELECT lead_department FROM {LIVE_SCHEMA}.cases WHERE case_id = $1", case_id
                )
            finally:
                await conn.close()
            if lead_now != lead:
                lead_token = await _token(fresh_database, lead_now)
            bearer = {"Authorization": f"Bearer {lead_token}"}
            ack = await http.post(f"/v1/cases/{case_id}/acknowledge", json={}, headers=bearer)
            assert ack.status_code == 200, ack.text

            async def signed() -> str | None:
                last[:] = [await http.get(path)]
                return last[0].text if "（牵头）：已签收" in last[0].text else None

            try:
                signed_page = await eventually(signed, 30)
            except AssertionError:
                signs = re.search(r'<ul class="signs".*?</ul>', last[0].text, re.S)
                raise AssertionError(signs.group(0) if signs else last[0].text[-2000:]) from None
            assert re.search(r'<dd id="case-status">(已签收|办理中)</dd>', signed_page)
            done = await http.post(
                f"/v1/cases/{case_id}/resolve",
                json={"outcome": "solved", "summary": "车辆已劝离，设置隔离桩"},
                headers=bearer,
            )
            assert done.status_code == 200, done.text

            async def resolved() -> str | None:
                page = await http.get(path)
                return page.text if "待回访" in page.text else None

            await eventually(resolved)
            no_score = await _post(
                http, f"{path}/callback", path, {"solved": "yes", "satisfied": "yes"}
            )
            assert no_score.status_code == 422
            assert 'id="e-score" role="alert"' in no_score.text
            callback = await _post(
                http, f"{path}/callback", path,
                {"solved": "yes", "satisfied": "yes", "score": "5", "comment": "很快",
                 "fault": "none"},
            )  # fmt: skip
            assert callback.status_code == 303, callback.text
            published = await _post(
                http, f"{path}/publish", path, {"summary": "滨海步道违停已清理，设置隔离桩。"}
            )
            assert published.status_code == 303, published.text

            async def shown() -> str | None:
                page = await http.get(path)
                return page.text if "滨海步道违停已清理" in page.text else None

            final = await eventually(shown)
            assert "回访" in final and "很快" in final

            await http.post("/lang", data={"csrf_token": await _csrf(http, path), "lang": "en",
                                           "next": path})  # fmt: skip
            english = await _post(http, "/whistle", "/whistle", {"category": "", "title": "x"})
            assert 'id="e-category" role="alert">Pick a category.' in english.text
