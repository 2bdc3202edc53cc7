"""Helpers that run Whistle's own processes (worker, projector, API) for integration tests."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from whistle.service.process_supervisor import Supervisor
from whistle.settings import Settings


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_from_env(name: str) -> str:
    """The port the environment variable ``name`` gives (shared machines assign them), else a
    free one: a test's fixed port collides with the same test running in another checkout."""
    return os.environ.get(name) or str(free_port())


def restartable_port() -> int:
    """A free TCP port on 127.0.0.1 below the kernel's ephemeral range, for a server a test
    stops and starts again: while it is down, clients retrying it cannot be handed its port for
    their own end (Linux then connects a socket to itself, the port looks taken and the server
    cannot bind it again), as they can with ``free_port``'s ephemeral ports."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, max(20001, low))
        if port in _GIVEN:  # another test's, maybe not listening yet (or any more)
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _GIVEN.add(port)
            return port
    raise RuntimeError("no free port below the ephemeral range")


_GIVEN: set[int] = set()
"""Ports ``restartable_port`` handed out in this process: each only once, so a module's port
taken at import (its server started later) never goes to another test meanwhile."""


def isolated_env(
    tmp_path: Path, bootstrap: str, dsn: str, prefix: str, partitions: int = 4
) -> dict[str, str]:
    """Environment for processes that use their own topics, database and data folder."""
    return {
        "WHISTLE_KAFKA_BOOTSTRAP": bootstrap,
        "WHISTLE_DATABASE_URL": dsn,
        "WHISTLE_TOPIC_PREFIX": prefix,
        "WHISTLE_PARTITIONS": str(partitions),
        "WHISTLE_STATE_DIR": str(tmp_path / "state"),
        "WHISTLE_HTTP_PORT": str(free_port()),
        "WHISTLE_WORKER_WEB_PORT": str(free_port()),
    }


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a child process started with ``env`` reads."""
    fields = {k.removeprefix("WHISTLE_").lower(): v for k, v in env.items()}
    return Settings.model_validate(fields)


@contextmanager
def supervised(tmp_path: Path, env: dict[str, str]) -> Iterator[Supervisor]:
    """A supervisor whose children are all stopped when the block ends."""
    supervisor = Supervisor(settings_of(env), tmp_path / "logs", env=env)
    try:
        yield supervisor
    finally:
        supervisor.stop()
