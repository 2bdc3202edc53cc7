"""The worker's parent starts a new Faust child when one exits asking to be restarted."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

import streams.startup
from streams.startup import EX_RESTART, Starter
from whistle.settings import Settings


def child(settings: Settings, ready: Event, _lifeline: Connection) -> None:
    """A stand-in for ``run_faust``: ready, then stalled twice (once before ready), then done."""
    starts = settings.state_dir / "starts"
    with starts.open("a") as marks:
        marks.write("x")
    count = len(starts.read_text())
    if count != 2:
        ready.set()
    sys.exit(EX_RESTART if count < 3 else 3)


@pytest.fixture
def handlers() -> Iterator[None]:
    """``Starter.run`` installs its own SIGTERM/SIGINT handlers: give pytest its own back."""
    kept = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in kept.items():
        signal.signal(signum, handler)


async def no_topics(*_: object, **__: object) -> None:
    """``ensure_topics`` without a broker."""


def test_a_child_asking_to_be_restarted_is_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handlers: None
) -> None:
    monkeypatch.setattr(streams.startup, "ensure_topics", no_topics)
    monkeypatch.setattr(streams.startup, "BACKOFF_S", (0.01, 0.01))
    settings = Settings(state_dir=tmp_path)
    assert Starter(settings, child).run() == 3  # the third start's own exit code
    assert (tmp_path / "starts").read_text() == "xxx"
