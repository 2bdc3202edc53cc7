"""The fault suite, bounded for CI: a few kill -9 cycles of the stream workers and the
projector, one hard restart of the broker and one of PostgreSQL, under steady mixed traffic.

Everything runs on a private broker and cluster (never the shared ones). The full version is
``python -m tests.fault.suite`` (docs/reliability.md).
"""

from __future__ import annotations

import os

import pytest

from tests.fault.suite import Options, run_suite, summary

pytestmark = pytest.mark.integration

CYCLES = int(os.environ.get("WHISTLE_FAULT_CYCLES", "4"))


async def test_under_kills_and_restarts_nothing_is_lost_or_applied_twice() -> None:
    verdict = await run_suite(
        Options(
            cycles=CYCLES,
            broker_restarts=1,
            pg_restarts=1,
            rate_per_s=2.0,
            seed=int(os.environ.get("WHISTLE_FAULT_SEED", "11")),
            targets=("worker-1", "worker-2", "projector"),
            gap_s=(0.5, 2.0),
        )
    )
    print(summary(verdict))
    assert verdict.failures() == []
    assert verdict.commands_accepted > 0 and verdict.deadlines_fired > 0
    assert verdict.wire_received >= verdict.webhook_expected > 0
