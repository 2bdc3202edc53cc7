"""Run one stream worker process: make sure the topics exist, then start Faust."""

from __future__ import annotations

import asyncio

import faust

from streams.app import Streams
from whistle.logs import configure_logging, get_logger
from whistle.settings import Settings
from whistle.topics import ensure_topics


def run_worker(settings: Settings) -> int:
    """Start the decider, router and deadline scanner; return when the worker stops."""
    configure_logging(settings.log_format, settings.log_level)
    asyncio.run(ensure_topics(settings))
    streams = Streams(settings)
    get_logger().info("worker_starting", worker_id=settings.worker_id, bootstrap=settings.bootstrap)
    worker = faust.Worker(streams.app, loglevel=settings.log_level.lower(), quiet=True)
    # Faust's terminal spinner, on whenever the level is WARNING or above, sets the root
    # logger to DEBUG: every library's debug line would then be formatted (10 % of the CPU).
    worker.spinner = None
    worker.execute_from_commandline()
    return 0
