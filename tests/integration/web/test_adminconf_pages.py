"""The admin's configuration pages on a real configuration follower (Kafka topic) and the
database's version table: a draft of the routing rules is previewed (the diff names the
金海 category that changes owner), refused beside the field when it is not JSON, and
published from the page as the next version that the API then shows in force; drafts of
routing rules and SLA policies are kept side by side and published as one version."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape
from typing import cast

import pytest
from fastapi import FastAPI

from tests.conftest import unique_name
from tests.integration.web.conftest import Site, submit
from whistle.config.follower import ConfigFollower
from whistle.config.seed import configured_seed
from whistle.config.service import ConfigService
from whistle.config.version_table import PgConfigVersions
from whistle.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def configured(
    site: Site, kafka_bootstrap: str, fresh_database: str
) -> AsyncIterator[ConfigService]:
    """The site with a configuration service on its own topic prefix."""
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=fresh_database,
        topic_prefix=unique_name("adminconf"),
    )
    follower = ConfigFollower(settings, seed=configured_seed(settings))
    await follower.start()
    service = ConfigService(follower, PgConfigVersions(site.pool), site.pool)
    app = cast(FastAPI, site.app)
    app.state.services.config = service
    try:
        yield service
    finally:
        await follower.stop()


def _draft(html: str, kind: str = "routing") -> str:
    found = re.search(rf'<textarea id="f-document_{kind}"[^>]*>(.*?)</textarea>', html, re.S)
    assert found, html
    return unescape(found.group(1))


async def test_a_routing_draft_is_previewed_and_published_from_the_page(
    site: Site, configured: ConfigService
) -> None:
    before = configured.latest().version
    async with site.session("admin") as admin:
        page = await admin.get("/admin/config/routing")
        assert page.status_code == 200 and "派单规则" in page.text
        draft = json.loads(_draft(page.text))
        bad = await submit(admin, "/admin/config/draft/preview", {"document_routing": "{"},
                           "/admin/config/routing")  # fmt: skip
        assert (
            bad.status_code == 422 and 'id="e-document_routing"' in bad.text and "JSON" in bad.text
        )
        rules = draft["rules"] if isinstance(draft, dict) else draft
        assert rules, draft
        changed = json.dumps(draft, ensure_ascii=False)
        preview = await submit(admin, "/admin/config/draft/preview", {"document_routing": changed},
                               "/admin/config/routing")  # fmt: skip
        assert preview.status_code == 200, preview.text
        assert f"基于第 {before} 版" in preview.text
        done = await submit(
            admin,
            "/admin/config/draft/publish",
            {"document_routing": changed, "reason": "", "expected_version": str(before)},
            "/admin/config/routing",
        )
        assert done.status_code == 422 and 'id="e-reason"' in done.text
        same = await submit(
            admin,
            "/admin/config/draft/publish",
            {"document_routing": changed, "reason": "测试", "expected_version": str(before)},
            "/admin/config/routing",
        )
        assert same.status_code == 422 and "无需发布" in same.text  # no change: refused
        assert configured.latest().version == before
        ours = next(r for r in rules if r["id"] == "tongan.datong.jinhai.parking")
        lead = "urban_management" if ours["lead"] != "urban_management" else "public_security"
        edited = [{**r, "lead": lead, "supporting": []} if r is ours else r for r in rules]
        moved = json.dumps({**draft, "rules": edited}, ensure_ascii=False)
        diff = await submit(admin, "/admin/config/draft/preview", {"document_routing": moved},
                            "/admin/config/routing")  # fmt: skip
        assert diff.status_code == 200 and "归属变化" in diff.text, diff.text
        assert "tongan.datong.jinhai" in diff.text and lead in diff.text
        badrange = await submit(
            admin,
            "/admin/config/draft/whatif",
            {"document_routing": moved, "since": "2026-12-02", "until": "2026-11-01"},
            "/admin/config/routing",
        )
        assert badrange.status_code == 422 and 'id="e-until"' in badrange.text
        published = await submit(
            admin,
            "/admin/config/draft/publish",
            {
                "document_routing": moved,
                "reason": "金海停车改由城管牵头",
                "expected_version": str(before),
            },
            "/admin/config/routing",
        )
        assert published.status_code == 303, published.text
        assert published.headers["location"] == f"/admin/config?published={before + 1}"
        stale = await submit(
            admin,
            "/admin/config/draft/publish",
            {"document_routing": moved, "reason": "再来一次", "expected_version": str(before)},
            "/admin/config/routing",
        )
        assert stale.status_code == 422 and 'id="e-drafts"' in stale.text
    latest = configured.latest()
    assert latest.version == before + 1 and latest.reason == "金海停车改由城管牵头"
    document = latest.document.model_dump(mode="json")
    found = [r for r in document["routing"]["rules"] if r["id"] == ours["id"]]
    assert [r["lead"] for r in found] == [lead]


async def test_drafts_of_two_kinds_are_kept_together_and_published_as_one_version(
    site: Site, configured: ConfigService
) -> None:
    """Routing rules and SLA policies drafted side by side: another kind is added to the
    drafts (an unknown one is refused beside the picker), a bad draft is refused beside its
    own text area with the other kept, and publish makes one version of both."""
    before = configured.latest().version
    async with site.session("admin") as admin:
        page = await admin.get("/admin/config/routing")
        draft = json.loads(_draft(page.text))
        for rule in draft["rules"]:
            if rule["id"] == "tongan.datong.jinhai.parking":
                rule.update(lead="urban_management", supporting=[])
        routing = json.dumps(draft, ensure_ascii=False)
        added = await submit(
            admin,
            "/admin/config/draft/preview",
            {"document_routing": routing, "add": "1", "add_kind": "policies"},
            "/admin/config/routing",
        )
        assert added.status_code == 200, added.text
        assert json.loads(_draft(added.text)) == draft  # the routing draft is kept as edited
        policies = json.loads(_draft(added.text, "policies"))
        assert policies["whistle"]["clocks"]["general"]["resolve"]["within"] == "P7D"
        policies["whistle"]["clocks"]["general"]["resolve"]["within"] = "P3D"
        both = {
            "document_routing": routing,
            "document_policies": json.dumps(policies, ensure_ascii=False),
        }
        weather = {**both, "add": "1", "add_kind": "weather"}
        unknown = await submit(
            admin, "/admin/config/draft/preview", weather, "/admin/config/routing"
        )
        assert unknown.status_code == 422 and 'id="e-add_kind"' in unknown.text
        assert json.loads(_draft(unknown.text, "policies")) == policies
        broken = {**both, "document_policies": '{"whistle": '}
        bad = await submit(admin, "/admin/config/draft/preview", broken, "/admin/config/routing")
        assert bad.status_code == 422 and 'id="e-document_policies"' in bad.text
        assert 'id="e-document_routing"' not in bad.text
        assert json.loads(_draft(bad.text)) == draft
        refused = await submit(
            admin,
            "/admin/config/draft/publish",
            {**broken, "reason": "不会发布", "expected_version": str(before)},
            "/admin/config/routing",
        )
        assert refused.status_code == 422 and 'id="e-document_policies"' in refused.text
        assert configured.latest().version == before  # nothing published
        without = {**both, "remove": "policies"}
        removed = await submit(
            admin, "/admin/config/draft/preview", without, "/admin/config/routing"
        )
        assert removed.status_code == 200 and 'id="f-document_policies"' not in removed.text
        preview = await submit(admin, "/admin/config/draft/preview", both, "/admin/config/routing")
        assert preview.status_code == 200, preview.text
        assert "归属变化" in preview.text and "时限变化" in preview.text
        changed = re.search(r'<p id="changed-kinds">(.*?)</p>', preview.text)
        assert changed and "派单规则" in changed.group(1) and "时限策略" in changed.group(1)
        published = await submit(
            admin,
            "/admin/config/draft/publish",
            {
                **both,
                "reason": "金海停车改由城管牵头，办结时限缩短",
                "expected_version": str(before),
            },
            "/admin/config/routing",
        )
        assert published.status_code == 303, published.text
        assert published.headers["location"] == f"/admin/config?published={before + 1}"
        index = await admin.get(published.headers["location"])
        assert f"已发布第 {before + 1} 版" in index.text
    latest = configured.latest()
    assert latest.version == before + 1 and set(latest.kinds) == {"routing", "policies"}
    document = latest.document.model_dump(mode="json")
    [ours] = [r for r in document["routing"]["rules"] if r["id"] == "tongan.datong.jinhai.parking"]
    assert ours["lead"] == "urban_management"
    assert document["policies"]["whistle"]["clocks"]["general"]["resolve"]["within"] == "P3D"
