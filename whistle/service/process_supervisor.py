"""Start Whistle's processes as children, wait until the API is ready, stop them together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from whistle.settings import Settings


@dataclass
class Supervisor:
    """The worker, projector, API and webhook deliverer of one local service."""

    settings: Settings
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        """Start ``whistle ARGS`` as a child whose output goes to ``log_dir/NAME.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        env = {**os.environ, "WHISTLE_LOG_FORMAT": "json", **self.env}
        # -P: the child imports whistle from where the parent did (its installation or
        # PYTHONPATH), not from the current directory: `python -m` puts the current directory
        # first, so a benchmark of an older checkout run from this one ran this one's worker.
        self.children[name] = subprocess.Popen(
            [sys.executable, "-P", "-m", "whistle.cli", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def wait_ready(self, url: str, timeout_s: float = 180.0) -> None:
        """Wait until ``url`` answers 200, or raise when a child died or time ran out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"not ready after {timeout_s:.0f} s: {url} (logs in {self.log_dir})")

    def kill(self, name: str) -> None:
        """SIGKILL one child (fault injection) and reap it."""
        child = self.children.pop(name)
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()

    def check_alive(self) -> None:
        """Raise if a child has exited."""
        for name, child in self.children.items():
            code = child.poll()
            if code is not None:
                raise RuntimeError(
                    f"{name} exited with code {code}; see {self.log_dir / (name + '.log')}"
                )

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM every child, then SIGKILL what is still running after ``timeout_s``."""
        for child in self.children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
