"""Small process helpers for the local dev services: pid files, ports, polite stops."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ServiceError(Exception):
    """An expected failure of a dev service, reported to the user as one line."""


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file``, or None when there is none."""
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True when ``pid`` names a live (non-zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """True when ``pid`` has exited but was not reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def cmdline(pid: int) -> str:
    """The command line of ``pid`` (empty when unknown)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def find_pid(marker: str) -> int | None:
    """A live process whose command line contains ``marker`` (e.g. its config file), if any."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and marker in cmdline(int(entry.name)):
            pid = int(entry.name)
            if pid != os.getpid() and pid_alive(pid):
                return pid
    return None


def children_of(pid: int) -> list[int]:
    """The live direct children of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[-1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def our_pid(pid_file: Path, marker: str) -> int | None:
    """This checkout's live process: the pid file's if its command line has ``marker``.

    When the pid file is missing or stale but a process with ``marker`` runs, the pid file
    is rewritten to name it (so ``down`` still stops exactly that process).
    """
    pid = read_pid(pid_file)
    if pid is not None and pid_alive(pid) and marker in cmdline(pid):
        return pid
    found = find_pid(marker)
    if found is not None:
        pid_file.write_text(f"{found}\n")
    return found


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    """Poll ``check`` until it returns True or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def terminate(pid: int, grace: float = 20.0) -> None:
    """Send SIGTERM to exactly ``pid``, wait up to ``grace`` seconds, then SIGKILL it."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if wait_until(lambda: not pid_alive(pid), grace):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_until(lambda: not pid_alive(pid), 5.0)


def tail(path: Path, lines: int = 5) -> str:
    """The last ``lines`` lines of a log file, joined by `` | `` (for one-line errors)."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


def last_error(path: Path) -> str:
    """The last ERROR line of a log file and the exception line after it (empty if none)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    found = [i for i, line in enumerate(lines) if " ERROR " in line or " FATAL " in line]
    if not found:
        return ""
    following = lines[found[-1] + 1 : found[-1] + 2]
    cause = [line.strip() for line in following if not line.startswith(("\t", "["))]
    return " | ".join([lines[found[-1]].strip(), *cause])


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, even when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coro)))
    thread.start()
    thread.join()
    return result[0]
