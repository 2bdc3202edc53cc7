"""Retry schedule, Retry-After, and what each HTTP answer means for a delivery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from whistle.delivery.schedule import RETRY_DELAYS_S, delay_before, next_delay, parse_retry_after
from whistle.webhooks.sender import AttemptResult, judge

NOW = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)


def result(code: int | None, retry_after: str | None = None) -> AttemptResult:
    return AttemptResult(NOW, 12.0, code, None if code == 200 else "x", retry_after)


def test_the_schedule_is_immediately_5s_5min_30min_2h_5h_10h_10h() -> None:
    assert RETRY_DELAYS_S == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert [delay_before(n) for n in range(1, 10)] == [*RETRY_DELAYS_S, None]


def test_after_each_failure_the_next_delay_follows_the_schedule() -> None:
    assert [next_delay(n) for n in range(1, 9)] == [5, 300, 1800, 7200, 18000, 36000, 36000, None]


@pytest.mark.parametrize("code", [200, 201, 202, 204])
def test_2xx_is_delivered(code: int) -> None:
    assert judge(result(code), 0).outcome == "delivered"


@pytest.mark.parametrize("code", [None, 400, 404, 429, 500, 503])
def test_failures_are_retried_on_schedule(code: int | None) -> None:
    verdict = judge(result(code), attempts_before=2)
    assert (verdict.outcome, verdict.retry_in) == ("retry", 1800)


def test_410_disables_the_endpoint_at_once() -> None:
    assert judge(result(410), 0).outcome == "gone"


def test_the_last_failure_goes_to_dead_letters() -> None:
    assert judge(result(500), attempts_before=len(RETRY_DELAYS_S) - 1).outcome == "dead"


def test_retry_after_in_seconds_delays_more_than_the_schedule() -> None:
    verdict = judge(result(429, "120"), attempts_before=0)
    assert verdict.retry_in == 120


def test_retry_after_never_shortens_the_schedule() -> None:
    assert judge(result(503, "1"), attempts_before=2).retry_in == 1800


def test_retry_after_as_an_http_date() -> None:
    assert parse_retry_after("Thu, 26 Nov 2026 04:10:00 GMT", NOW) == 600


def test_retry_after_is_capped_and_garbage_ignored() -> None:
    assert parse_retry_after("999999") == 36000
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
