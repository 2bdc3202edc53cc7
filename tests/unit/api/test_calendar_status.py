"""Loud about the holiday calendar: /readyz degraded with reasons, /v1/calendar/status."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from tests.unit.api.conftest import auth
from whistle.api.calendar_watch import Snapshot
from whistle.api.deps import Services
from whistle.domain.calendar import coverage, default_calendar

CST = timezone(timedelta(hours=8))


class FixedWatch:
    """A calendar watch seeing ``day`` and ``clocks`` clocks beyond the calendar."""

    def __init__(self, day: str, clocks: int = 0) -> None:
        now = datetime.fromisoformat(day + "T10:00:00").replace(tzinfo=CST)
        self.snap = Snapshot(coverage(default_calendar(), now), clocks, 0.0)

    async def snapshot(self) -> Snapshot:
        return self.snap


async def test_ready_when_the_calendar_is_far_from_its_end(
    client: httpx.AsyncClient, services: Services
) -> None:
    services.calendar = FixedWatch("2026-06-01")  # type: ignore[assignment]
    body = (await client.get("/readyz")).json()
    assert body["status"] == "ready" and body["reasons"] == []
    assert body["checks"]["calendar"] == {
        "ok": True,
        "years": [2025, 2026],
        "covered_until": "2026-12-31",
        "days_left": 214,
        "clocks_beyond": 0,
    }


async def test_degraded_from_sixty_days_before_the_end_and_with_clocks_beyond(
    client: httpx.AsyncClient, services: Services
) -> None:
    services.calendar = FixedWatch("2026-12-02", clocks=3)  # type: ignore[assignment]
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert [r["code"] for r in body["reasons"]] == ["clocks_beyond_calendar", "calendar_ends_soon"]
    first = body["reasons"][0]["message"]
    assert first.startswith("3 个正在计时的工作日时限延伸到尚无节假日安排的 2027 年")
    assert "2026-12-31（还剩 30 天）" in body["reasons"][1]["message"]
    en = (await client.get("/readyz", headers={"Accept-Language": "en"})).json()
    assert en["reasons"][0]["message"].startswith("3 running working-time clocks reach 2027")
    assert "ends on 2026-12-31 (30 days left)" in en["reasons"][1]["message"]


async def test_a_year_without_a_calendar_is_degraded_not_unready(
    client: httpx.AsyncClient, services: Services
) -> None:
    services.calendar = FixedWatch("2027-03-01", clocks=12)  # type: ignore[assignment]
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert [r["code"] for r in body["reasons"]] == [
        "calendar_missing_this_year",
        "clocks_beyond_calendar",
    ]
    assert body["checks"]["calendar"]["covered_until"] is None


async def test_not_ready_stays_not_ready(client: httpx.AsyncClient, services: Services) -> None:
    services.calendar = FixedWatch("2026-12-02", clocks=1)  # type: ignore[assignment]
    services.kafka_probe.up = False  # type: ignore[attr-defined]
    response = await client.get("/readyz")
    assert response.status_code == 503 and response.json()["status"] == "not_ready"


async def test_the_status_for_the_dashboard(client: httpx.AsyncClient, services: Services) -> None:
    assert (await client.get("/v1/calendar/status")).status_code == 401
    no_watch = await client.get("/v1/calendar/status", headers=auth("tok-sup-street-in"))
    assert no_watch.status_code == 503
    assert no_watch.headers["content-type"] == "application/problem+json"
    services.calendar = FixedWatch("2026-12-02")  # type: ignore[assignment]
    for token in ("tok-sup-street-in", "tok-sec-in", "tok-liaison-in", "tok-admin"):
        response = await client.get("/v1/calendar/status", headers=auth(token))
        assert response.status_code == 200, token
    body = response.json()
    assert body == {
        "today": "2026-12-02",
        "years": [2025, 2026],
        "covered_until": "2026-12-31",
        "days_left": 30,
        "clocks_beyond": 0,
        "degraded": True,
        "reasons": [body["reasons"][0]],
    }
    assert body["reasons"][0]["code"] == "calendar_ends_soon"
    assert "2027 年的安排尚未导入" in body["reasons"][0]["message"]


async def test_the_audit_log_is_for_admins_only(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/audit")).status_code == 401
    for token in ("tok-sup-street-in", "tok-sec-in", "tok-liaison-in"):
        response = await client.get("/v1/audit", headers=auth(token))
        assert response.status_code == 403, token
        assert response.headers["content-type"] == "application/problem+json"
    bad = await client.get("/v1/audit?kind=users", headers=auth("tok-admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.kind"
    empty = await client.get(
        "/v1/audit?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z",
        headers={**auth("tok-admin"), "Accept-Language": "en"},
    )
    assert empty.status_code == 422 and empty.json()["detail"] == "until must be later than since"
    unwired = await client.get("/v1/audit", headers=auth("tok-admin"))
    assert unwired.status_code == 503  # the fakes have no audit log; the real one: integration
