"""One case through every workspace, in headless Chromium over the real service (worker,
projector and API processes on Kafka and PostgreSQL), with the demo people of ``whistle run
--demo``. A parking whistle in 金海's grid g01 goes to 城管 (lead) with 公安 and 交通 in
support, so there is a supporting liaison who can dispute.

The order follows the decider (``whistle.domain.decisions``): a 退单 and its ruling need an
open case (``status_rejection`` refuses both once the case is resolved), so they come between
the lead's 签收 and its 办结; the callback needs a resolved case, the publication a callback.

1. the secretary ``jinhai`` on a phone (390×844) raises the whistle with a photo (a JPEG with
   a GPS block, through the form's file input);
2. she starts a second, similar whistle, is shown the first as a likely duplicate (htmx
   ``POST /whistle/similar``) and joins it (这是同一个问题): hers is kept as a duplicate;
3. the lead's liaison ``urban`` (desktop) signs for it (签收);
4. the supporting liaison ``police`` disputes it (退单, with a reason), and the supervisor
   ``tongan`` reads his metrics, then upholds the routing on /supervisor/cases/{id};
5. ``urban`` resolves the case (办结);
6. the secretary records the callback (回访: solved, satisfied, 5) and publishes (晒事: a
   summary and an after photo, a PNG with a GPS block);
7. a visitor without login sees it on /public and /public/cases/{id}, without either
   requester's name or phone, the address or the description, and the served photo has no
   GPS block;
8. the supervisor's metrics of 金海 have moved: 回访数 0 → 1, 解决率 and 满意率 — → 100%,
   平均评分 — → 5.00.

axe-core checks every page visited (no serious or critical violation, no sideways scroll);
pages no other browser test shows are photographed into docs/screenshots/journey-*.png.
"""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pytest
from PIL import ExifTags, Image

from tests.e2e.browser import (
    DESKTOP,
    GRID,
    PHONE,
    call_back,
    check,
    chromium,
    publish,
    reloads_until,
    resolve_case,
    shows,
    signed_in,
)
from tests.stack import Stack, eventually
from tests.unit.test_photos import phone_photo

pytestmark = pytest.mark.e2e

TITLE = "滨海步道入口违停"
ADDRESS = "金海社区滨海步道入口东侧3号"
DESCRIPTION = "多辆私家车长期停在步道入口，推婴儿车的居民过不去"
REQUESTERS = (("林阿姨", "13800000000"), ("陈先生", "13900000001"))
SUMMARY = "步道入口违停车辆已劝离，入口已设隔离桩。"
METRICS = "/supervisor/metrics?level=community&area=tongan.datong"
"""The communities of 大同街道, 金海 among them."""
FIGURES = ("回访数", "解决率", "满意率", "平均评分")
"""The columns the callback moves."""


async def fill_whistle(page: Any, title: str, requester: tuple[str, str]) -> None:
    """The whistle form filled in (the photo apart): parking at the walk's entrance."""
    await page.locator("#f-category").select_option("parking")
    await page.locator("#f-title").fill(title)
    await page.locator("#f-description").fill(DESCRIPTION)
    await page.locator("#f-grid").select_option(GRID)
    await page.locator("#f-requester_name").fill(requester[0])
    await page.locator("#f-requester_phone").fill(requester[1])
    await page.locator("#f-address").fill(ADDRESS)
    await page.locator("#f-address").blur()


async def jinhai_figures(page: Any) -> dict[str, str] | None:
    """金海's row of the metrics table, column name → figure as shown (None when absent)."""
    table = page.locator("#metrics")
    if not await table.count():
        return None
    heads = await table.locator("thead th").all_inner_texts()
    for row in await table.locator("tbody tr").all():
        cells = await row.locator("th, td").all_inner_texts()
        if "金海" in cells[0]:
            return dict(zip(heads, cells, strict=True))
    return None


async def test_one_case_through_every_workspace(
    service: tuple[Stack, dict[str, str]], api: httpx.Client
) -> None:
    stack, passwords = service
    url = stack.base
    reader = {"Authorization": f"Bearer {stack.tokens['supervisor']}"}  # all of 同安

    def case(case_id: str) -> dict[str, Any]:
        got = api.get(f"/v1/cases/{case_id}", headers=reader)
        return got.json() if got.status_code == 200 else {}

    def events(case_id: str) -> list[str]:
        got = api.get(f"/v1/cases/{case_id}/timeline", headers=reader)
        return [e["type"] for e in got.json()["events"]] if got.status_code == 200 else []

    async with chromium() as browser:
        # 1. the secretary raises the whistle, on her phone, with a photo
        secretary = await signed_in(
            browser, url, "jinhai", passwords["jinhai"], PHONE, is_mobile=True, has_touch=True
        )
        await secretary.goto(f"{url}/whistle")
        await fill_whistle(secretary, TITLE, REQUESTERS[0])
        photo = {"name": "walk.jpg", "mimeType": "image/jpeg", "buffer": phone_photo()}
        await secretary.set_input_files("#f-photos", files=[photo])
        await check(secretary, None)
        await secretary.locator("#send-whistle").click()
        await secretary.wait_for_url(re.compile(r".*/cases/WH-[^/?]+\?raised=1$"))
        found = re.search(r"/cases/(WH-[^/?]+)", secretary.url)
        assert found, secretary.url
        case_id = found.group(1)
        routed = eventually(lambda: (c := case(case_id)).get("status") == "routed" and c)
        assert routed["lead_department"] == "urban_management", routed
        assert {a["department"] for a in routed["assignments"]} == {
            "urban_management",
            "public_security",
            "transport",
        }
        assert len(routed["attachments"]) == 1
        await check(secretary, None)

        # 2. a second whistle about the same problem: shown as a likely duplicate, joined
        await secretary.goto(f"{url}/whistle")
        await fill_whistle(secretary, "步道入口乱停车", REQUESTERS[1])
        await secretary.locator(f"#join-{case_id}").wait_for(timeout=15000)
        assert "可能是同一问题" in await secretary.inner_text("#duplicates")
        await check(secretary, None)
        await secretary.locator(f"#join-{case_id}").click()
        await secretary.wait_for_url(re.compile(rf".*/cases/{case_id}\?joined=WH-[^/?&]+$"))
        joined = secretary.url.rsplit("joined=", 1)[1]
        assert joined in await secretary.inner_text("#joined")
        await check(secretary, "journey-joined")
        eventually(lambda: case(joined).get("status") == "duplicate")
        await shows(secretary, f"{url}/cases/{case_id}", "合并重复案件")

        # 3. the lead's liaison signs for it
        urban = await signed_in(browser, url, "urban", passwords["urban"], DESKTOP)
        await urban.goto(f"{url}/liaison")
        await check(urban, None, DESKTOP["width"])
        await urban.locator(f"#ack-{case_id}").click()
        await urban.wait_for_selector(f"#ack-{case_id}", state="detached")
        eventually(lambda: "DepartmentAcknowledged" in events(case_id))

        # 4. the supporting liaison disputes; the supervisor reads his figures, then rules
        police = await signed_in(browser, url, "police", passwords["police"], DESKTOP)
        await police.goto(f"{url}/liaison")
        await check(police, None, DESKTOP["width"])
        await police.get_by_role("link", name=f"办理 {TITLE}").click()
        await police.wait_for_url(f"{url}/liaison/cases/{case_id}")
        assert "配合" in await police.inner_text("#my-part")
        await police.locator("#f-dispute-reason").select_option("wrong_function")
        await police.locator("#f-dispute-text").fill("步道入口违停由城管、交通处理，无需公安出警")
        await police.locator("#do-dispute").click()
        await police.wait_for_selector("#act-dispute.notice, #act-dispute .notice")
        await check(police, "journey-supporting-disputed", DESKTOP["width"])
        eventually(lambda: "AssignmentDisputed" in events(case_id))

        supervisor = await signed_in(browser, url, "tongan", passwords["tongan"], DESKTOP)
        before = await reloads_until(supervisor, f"{url}{METRICS}", jinhai_figures)
        assert [before[f] for f in FIGURES] == ["0", "—", "—", "—"], before
        await check(supervisor, None, DESKTOP["width"])

        async def disputed(page: Any) -> bool:
            return case_id in await page.inner_text("#h-disputes + ul")

        await reloads_until(supervisor, f"{url}/supervisor", disputed)
        await check(supervisor, None, DESKTOP["width"])
        await supervisor.locator(f"#case-{case_id} a").click()
        await supervisor.wait_for_url(f"{url}/supervisor/cases/{case_id}")
        await check(supervisor, None, DESKTOP["width"])
        await supervisor.locator("#f-ruling-department").select_option("public_security")
        await supervisor.get_by_label("裁定结果").select_option("uphold")
        await supervisor.locator("#f-ruling-reason").fill("违停劝离需公安配合执法，维持原派单")
        await supervisor.locator("#do-ruling").click()
        await supervisor.wait_for_selector("#act-ruling.notice, #act-ruling .notice")
        await check(supervisor, None, DESKTOP["width"])
        eventually(lambda: "DisputeRuled" in events(case_id))
        police_part = next(
            a for a in case(case_id)["assignments"] if a["department"] == "public_security"
        )
        assert not police_part["disputed"], police_part  # upheld: 公安 stays on the case

        # 5. the lead resolves the case
        await urban.goto(f"{url}/liaison/cases/{case_id}")
        await check(urban, None, DESKTOP["width"])
        await resolve_case(urban, "违停车辆已劝离，入口设置隔离桩")
        await check(urban, None, DESKTOP["width"])
        eventually(lambda: case(case_id).get("status") == "resolved")

        # 6. the secretary calls back and publishes the result with an after photo
        await secretary.goto(f"{url}/cases/{case_id}")
        await check(secretary, None)
        await call_back(secretary, f"{url}/cases/{case_id}", "入口通了，谢谢")
        after = phone_photo("PNG", size=(800, 600))
        photo = {"name": "after.png", "mimeType": "image/png", "buffer": after}
        await publish(secretary, f"{url}/cases/{case_id}", SUMMARY, photo)
        await check(secretary, None)

        # 7. the public pages: the result, nobody's personal data, photos without GPS
        public = await browser.new_page(viewport=PHONE)  # nobody logged in
        await shows(public, f"{url}/public", SUMMARY)
        await public.locator(f"#pub-{case_id} img").first.wait_for()
        await check(public, None)
        await public.goto(f"{url}/public/cases/{case_id}")
        assert SUMMARY in await public.inner_text("main")
        await check(public, None)
        secrets = (*[s for r in REQUESTERS for s in r], ADDRESS, DESCRIPTION)
        for address in ("/public", f"/public/cases/{case_id}"):
            await public.goto(f"{url}{address}")
            html = await public.content()
            for secret in secrets:
                assert secret not in html, (address, secret)
            sources = await public.locator("main img").evaluate_all("a => a.map(i => i.src)")
            assert sources, address
            for source in sources:
                served = await public.request.get(source)
                assert served.ok, source
                with Image.open(io.BytesIO(await served.body())) as image:
                    assert image.size == (800, 600), source
                    assert ExifTags.IFD.GPSInfo not in image.getexif(), source

        # 8. the supervisor's figures have moved with the callback
        async def called_back(page: Any) -> dict[str, str] | None:
            figures = await jinhai_figures(page)
            return figures if figures and figures["回访数"] != before["回访数"] else None

        moved = await reloads_until(supervisor, f"{url}{METRICS}", called_back)
        assert [moved[f] for f in FIGURES] == ["1", "100.0%", "100.0%", "5.00"], moved
        await check(supervisor, None, DESKTOP["width"])
