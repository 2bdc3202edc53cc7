"""The recovery watchdog tells a stalled table recovery from a slow one."""

from __future__ import annotations

from streams.recovery_watchdog import RecoveryProgress, RecoveryWatchdog

TP0 = ("cases-changelog", 0)
TP2 = ("cases-changelog", 2)


def progress(**offsets: int | None) -> RecoveryProgress:
    """Recovery of partitions 0 (up to 12) and 2 (up to 8), read up to ``offsets``."""
    read = {TP0: offsets.get("p0", 12), TP2: offsets.get("p2", -1)}
    return RecoveryProgress(read, {TP0: 12, TP2: 8})


def test_a_recovery_that_reads_nothing_for_the_limit_is_stalled() -> None:
    watchdog = RecoveryWatchdog(60)
    assert watchdog.check(100.0, progress()) is None
    assert watchdog.check(159.9, progress()) is None
    stall = watchdog.check(160.0, progress())
    assert stall is not None
    assert stall.seconds == 60.0
    assert stall.behind == {TP2: (-1, 8)}  # partition 0 is read up to its highwater
    assert stall.described() == [
        {"topic": "cases-changelog", "partition": 2, "offset": -1, "highwater": 8}
    ]


def test_every_record_read_is_progress() -> None:
    watchdog = RecoveryWatchdog(60)
    for second in range(0, 600, 50):  # slow: one record every 50 s
        assert watchdog.check(float(second), progress(p2=second // 50)) is None


def test_new_highwaters_are_a_new_recovery() -> None:
    watchdog = RecoveryWatchdog(60)
    assert watchdog.check(0.0, progress()) is None
    again = RecoveryProgress({TP0: 12, TP2: -1}, {TP0: 12, TP2: 9})
    assert watchdog.check(59.0, again) is None
    assert watchdog.check(118.0, again) is None
    assert watchdog.check(119.0, again) is not None


def test_the_time_out_of_recovery_does_not_count() -> None:
    watchdog = RecoveryWatchdog(60)
    assert watchdog.check(0.0, progress()) is None
    assert watchdog.check(30.0, None) is None  # recovered, then a later rebalance
    assert watchdog.check(40.0, progress()) is None
    assert watchdog.check(99.0, progress()) is None
    assert watchdog.check(100.0, progress()) is not None


def test_a_recovery_with_nothing_left_that_does_not_end_is_stalled_too() -> None:
    watchdog = RecoveryWatchdog(10)
    done = progress(p2=8)
    watchdog.check(0.0, done)
    stall = watchdog.check(10.0, done)
    assert stall is not None and stall.behind == {}


def test_offsets_not_known_yet_are_behind() -> None:
    waiting = RecoveryProgress({TP2: None}, {TP2: None})
    assert waiting.behind() == {TP2: (None, None)}
    watchdog = RecoveryWatchdog(10)
    watchdog.check(0.0, waiting)
    assert watchdog.check(10.0, waiting) is not None


def test_zero_never_stalls() -> None:
    watchdog = RecoveryWatchdog(0)
    watchdog.check(0.0, progress())
    assert watchdog.check(1e6, progress()) is None
