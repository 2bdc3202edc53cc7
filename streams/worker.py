"""Run one stream worker process: make sure the topics exist, then start Faust; while the
broker is unreachable or restarting during the start-up, wait and start again
(``streams.startup``)."""

from __future__ import annotations

from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

import faust

from streams.startup import EX_TEMPFAIL, Starter, end_with_parent, is_outage, report_outage
from whistle.logs import configure_logging, get_logger
from whistle.settings import Settings


def run_worker(settings: Settings) -> int:
    """Start the decider, router and deadline scanner; return when the worker stops."""
    configure_logging(settings.log_format, settings.log_level)
    return Starter(settings, run_faust).run()


class Worker(faust.Worker):  # type: ignore[misc]
    """Faust's worker, setting ``ready`` once it has started (its ``on_startup_finished``)."""

    def __init__(self, app: Any, ready: Event, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.ready_event = ready

    async def on_startup_finished(self) -> None:
        """Faust's "Ready": tell the parent."""
        await super().on_startup_finished()
        self.ready_event.set()


def run_faust(settings: Settings, ready: Event, lifeline: Connection) -> None:
    """One start of the Faust worker (a child process); it exits with ``EX_TEMPFAIL`` when
    its start-up failed because the broker was unreachable or restarting."""
    from streams.app import Streams  # here: the retrying parent never loads the Faust app

    configure_logging(settings.log_format, settings.log_level)
    end_with_parent(lifeline)
    streams = Streams(settings)
    get_logger().info("worker_starting", worker_id=settings.worker_id, bootstrap=settings.bootstrap)
    worker = Worker(streams.app, ready, loglevel=settings.log_level.lower(), quiet=True)
    # Faust's terminal spinner, on whenever the level is WARNING or above, sets the root
    # logger to DEBUG: every library's debug line would then be formatted (10 % of the CPU).
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as done:
        if done.code in (0, None) or ready.is_set():
            raise
        for cause in (done.__context__, worker.crash_reason):
            if is_outage(cause):
                report_outage(lifeline, cause)
                raise SystemExit(EX_TEMPFAIL) from cause
        raise
