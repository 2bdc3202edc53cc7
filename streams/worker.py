"""Run one stream worker process: make sure the topics exist, then start Faust; while the
broker is unreachable or restarting during the start-up, wait and start again
(``streams.startup``)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

import faust
import mode

from streams.startup import (
    EX_RESTART,
    EX_TEMPFAIL,
    Starter,
    end_with_parent,
    is_outage,
    report_outage,
)
from whistle.logs import configure_logging, get_logger
from whistle.settings import Settings

WATCH_EVERY_S = 1.0
"""How often the recovery watchdog looks at the tables' recovery."""
STOP_GRACE_S = 30.0
"""How long a Faust process stopping to be restarted may take before it is ended hard."""


def run_worker(settings: Settings) -> int:
    """Start the decider, router and deadline scanner; return when the worker stops."""
    configure_logging(settings.log_format, settings.log_level)
    return Starter(settings, run_faust).run()


class Worker(faust.Worker):  # type: ignore[misc]
    """Faust's worker, setting ``ready`` once it has started (its ``on_startup_finished``)
    and running ``watch`` every second from before the app starts."""

    def __init__(
        self, app: Any, ready: Event, watch: Callable[[], Awaitable[None]], **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self.ready_event = ready
        self.watch = watch

    @mode.Service.timer(WATCH_EVERY_S)
    async def _watch(self) -> None:
        """The worker's own timer: the app's timers wait for the first table recovery."""
        await self.watch()

    async def on_startup_finished(self) -> None:
        """Faust's "Ready": tell the parent."""
        await super().on_startup_finished()
        self.ready_event.set()


def run_faust(settings: Settings, ready: Event, lifeline: Connection) -> None:
    """One start of the Faust worker (a child process); it exits with ``EX_TEMPFAIL`` when
    its start-up failed because the broker was unreachable or restarting, and with
    ``EX_RESTART`` when it stopped because its table recovery stalled."""
    from streams.app import Streams  # here: the retrying parent never loads the Faust app

    configure_logging(settings.log_format, settings.log_level)
    end_with_parent(lifeline)
    streams = Streams(settings, on_stall=stop_to_restart)
    get_logger().info("worker_starting", worker_id=settings.worker_id, bootstrap=settings.bootstrap)
    level = settings.log_level.lower()
    worker = Worker(streams.app, ready, streams.watch_recovery, loglevel=level, quiet=True)
    # Faust's terminal spinner, on whenever the level is WARNING or above, sets the root
    # logger to DEBUG: every library's debug line would then be formatted (10 % of the CPU).
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as done:
        if streams.stalled is not None:
            raise SystemExit(EX_RESTART) from done
        if done.code in (0, None) or ready.is_set():
            raise
        for cause in (done.__context__, worker.crash_reason):
            if is_outage(cause):
                report_outage(lifeline, cause)
                raise SystemExit(EX_TEMPFAIL) from cause
        raise


def stop_to_restart() -> None:
    """Stop this Faust process as the supervisor's SIGTERM would (commits, flushes, closes
    RocksDB); should that not end within ``STOP_GRACE_S``, end it hard, as a kill would
    (what was not committed is decided again, byte-identical). ``run_faust`` makes the exit
    code ``EX_RESTART``."""
    os.kill(os.getpid(), signal.SIGTERM)
    hard = threading.Timer(STOP_GRACE_S, os._exit, args=(EX_RESTART,))
    hard.daemon = True
    hard.start()
