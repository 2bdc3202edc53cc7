"""``whistle worker``: the stream processor (decider, router, deadlines)."""

from __future__ import annotations

import argparse
from typing import Any

from whistle.settings import get_settings


def register(subparsers: Any) -> None:
    """Add the ``worker`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "worker", help="run a stream worker (decider, router, deadlines)"
    )
    parser.add_argument("--id", dest="worker_id", help="worker id (own data directory)")
    parser.add_argument("--web-port", type=int, help="port of /metrics")
    parser.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    from streams.worker import run_worker

    settings = get_settings()
    updates: dict[str, Any] = {}
    if args.worker_id:
        updates["worker_id"] = args.worker_id
    if args.web_port:
        updates["worker_web_port"] = args.web_port
    return run_worker(settings.model_copy(update=updates))
