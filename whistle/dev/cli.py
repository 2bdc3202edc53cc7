"""`whistle dev up | down | status`: the local Kafka broker and PostgreSQL cluster."""

from __future__ import annotations

import argparse
import sys

from whistle.dev.services import ServiceError, kafka_up, postgres_up, services_status, stop_all


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``dev`` command group to the ``whistle`` parser."""
    dev = subparsers.add_parser("dev", help="local Kafka and PostgreSQL for development")
    actions = dev.add_subparsers(dest="dev_command", required=True, metavar="{up,down,status}")
    actions.add_parser("up", help="start the services (idempotent)").set_defaults(func=_up)
    actions.add_parser("down", help="stop the services this checkout started").set_defaults(
        func=_down
    )
    actions.add_parser("status", help="one line per service; exit 0 when all are up").set_defaults(
        func=_status
    )


def _report(lines: list[str]) -> None:
    """Print status lines."""
    for line in lines:
        print(line)


def _up(_: argparse.Namespace) -> int:
    """Start the services, reporting each as soon as it is up."""
    try:
        for start in (kafka_up, postgres_up):
            print(start(), flush=True)
    except ServiceError as error:
        print(f"whistle dev up: {error}", file=sys.stderr)
        return 1
    return 0


def _down(_: argparse.Namespace) -> int:
    """Stop the services."""
    try:
        _report(stop_all())
    except ServiceError as error:
        print(f"whistle dev down: {error}", file=sys.stderr)
        return 1
    return 0


def _status(_: argparse.Namespace) -> int:
    """Report the services."""
    all_up, lines = services_status()
    _report(lines)
    return 0 if all_up else 1
