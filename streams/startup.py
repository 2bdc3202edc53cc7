"""Start the stream worker, and start it again while the broker restarts, instead of exiting.

Faust gives up at the first connection error of its start-up (its producer's bootstrap, the
topics it creates), and the worker process used to exit with it. Now each start is a child
process (``multiprocessing`` with spawn: a fresh interpreter, nothing left of a failed Faust app,
its RocksDB closed with the process) that says when Faust is ready. A child that ends before
that because the broker was unreachable or restarting exits with ``EX_TEMPFAIL``; this parent
then waits (1, 2, 4 … 30 s, each retry logged) and starts another, until
``WHISTLE_WORKER_START_DEADLINE_S`` has passed, and only then gives up, with one line naming
the last error. Any other early exit, and any exit after ready, is the worker's own exit code:
a broken configuration fails at once, and a running worker that dies is no start-up matter.
The one exception is a child that exits with ``EX_RESTART``, before or after ready: its table
recovery stalled (``streams.recovery_watchdog``), and the parent starts a new one after a
second, with the start-up retries and deadline of a first start.

What this relies on from mode/Faust (``run_attempt``'s child, ``streams.worker.run_faust``):
mode's worker ends a failed start with ``sys.exit(1)`` inside its ``except`` block, so the
``SystemExit``'s ``__context__`` is the start's exception, and ``on_startup_finished`` is
called once the worker is ready. tests/fault/test_worker_startup.py fails if an upgrade
changes either.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from types import FrameType

from aiokafka.errors import KafkaError, KafkaTimeoutError

from whistle.logs import get_logger
from whistle.settings import Settings
from whistle.topics import ensure_topics

log = get_logger()

EX_TEMPFAIL = 75
"""sysexits.h: a temporary failure, the caller is invited to retry (a child met an outage)."""
EX_RESTART = 79
"""Past sysexits.h's codes: a child that asks to be started again at once, ready or not (its
table recovery stalled: ``streams.recovery_watchdog``)."""
BACKOFF_S = (1.0, 30.0)
"""The first wait before a new start, and the longest (the wait doubles in between)."""

Child = Callable[[Settings, Event, Connection], None]
"""A worker child's entry point: settings, the event it sets once ready, and its lifeline to
the parent (``end_with_parent``; ``report_outage`` sends the error it met on it)."""


def is_outage(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an exception that caused it, says the broker is unreachable or
    restarting (a connection error, a timeout, or a Kafka error marked retriable)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, KafkaError) and (exc.retriable or isinstance(exc, KafkaTimeoutError)):
            return True
        if isinstance(exc, ConnectionError | TimeoutError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def end_with_parent(lifeline: Connection) -> None:
    """In a child: stop (SIGTERM to itself) once the parent has gone, even by kill -9, so a
    worker is never left running on its own. Waits on ``lifeline`` in a daemon thread (the
    parent never writes to it: only its end closing wakes the thread)."""

    def wait() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait, name="lifeline", daemon=True).start()


def report_outage(lifeline: Connection, exc: BaseException | None) -> None:
    """In a child about to exit with ``EX_TEMPFAIL``: tell the parent what it met."""
    with contextlib.suppress(OSError):
        lifeline.send(f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Outcome:
    """How one start ended: ``code`` once it had been ready or failed for good, or ``outage``
    (the error met) when it should be tried again."""

    code: int = 0
    outage: str | None = None


class Starter:
    """Runs worker children one after another until one becomes ready; forwards signals."""

    def __init__(self, settings: Settings, child: Child) -> None:
        self.settings = settings
        self.child = child
        self.running: BaseProcess | None = None
        self.stopped_by: int | None = None

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: passed on to a running child (which stops as it always did);
        between children, the start is abandoned at once."""
        self.stopped_by = signum
        if self.running is not None and self.running.is_alive():
            os.kill(self.running.pid or 0, signum)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            raise SystemExit(0)

    def run(self) -> int:
        """Start the worker, and start it again each time its child exits with
        ``EX_RESTART``; the exit code of the last start."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.on_signal)
        restarts = 0
        while True:
            code = self.start()
            if code != EX_RESTART:
                return code
            if self.stopped_by is not None:  # stopped while it was stopping to restart
                return 0
            restarts += 1
            log.warning("worker_restart", restarts=restarts, retry_in_s=BACKOFF_S[0])
            time.sleep(BACKOFF_S[0])

    def start(self) -> int:
        """Start children with a growing pause between them while starts meet an outage, up to
        the deadline; the exit code of the one that got furthest."""
        deadline = time.monotonic() + self.settings.worker_start_deadline_s
        pause, attempt = BACKOFF_S[0], 1
        while True:
            outcome = self.attempt(deadline)
            if outcome.outage is None or self.stopped_by is not None:
                return outcome.code
            left = deadline - time.monotonic()
            if left <= 0:
                return give_up(self.settings, attempt, outcome.outage)
            wait = min(pause, left)
            log.warning(
                "worker_start_retry", attempt=attempt, retry_in_s=wait, reason=outcome.outage
            )
            time.sleep(wait)
            pause, attempt = min(2 * pause, BACKOFF_S[1]), attempt + 1

    def attempt(self, deadline: float) -> Outcome:
        """Make sure the topics exist, then run one child until it exits."""
        wait_s = max(deadline - time.monotonic(), 0.0)
        try:
            asyncio.run(ensure_topics(self.settings, wait_s=wait_s))
        except Exception as exc:
            if is_outage(exc):
                return Outcome(outage=f"{type(exc).__name__}: {exc}")
            raise
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        lifeline, kept = context.Pipe()
        process = context.Process(
            target=self.child, args=(self.settings, ready, lifeline), name="faust-worker"
        )
        self.running = process
        process.start()
        lifeline.close()
        try:
            announced = False
            while process.is_alive():
                process.join(0.5)
                if ready.is_set() and not announced:
                    log.info("worker_ready", pid=process.pid)
                    announced = True
            reason = reported(kept)
        finally:
            self.running = None
            kept.close()
        code = process.exitcode or 0
        code = 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell says
        if ready.is_set() or code != EX_TEMPFAIL:
            return Outcome(code=code)
        return Outcome(outage=reason)


def reported(kept: Connection) -> str:
    """The error a child sent with ``report_outage``, if it sent one."""
    with contextlib.suppress(EOFError, OSError):
        if kept.poll():
            return str(kept.recv())
    return "the broker went away during start-up"


def give_up(settings: Settings, attempts: int, reason: str) -> int:
    """The final error after the deadline: logged, and one line on stderr; exit code 1."""
    deadline = settings.worker_start_deadline_s
    log.error("worker_start_gave_up", attempts=attempts, deadline_s=deadline, reason=reason)
    if os.environ.get("WHISTLE_LANG") == "en":
        line = (
            f"whistle worker: Kafka at {settings.bootstrap} did not become usable within "
            f"{deadline:.0f} s ({attempts} starts; last: {reason}); check "
            "WHISTLE_KAFKA_BOOTSTRAP and the broker, or raise WHISTLE_WORKER_START_DEADLINE_S"
        )
    else:
        line = (
            f"whistle worker: {deadline:.0f} 秒内 Kafka（{settings.bootstrap}）一直不可用"
            f"（已尝试启动 {attempts} 次，最后的错误：{reason}）；请检查 WHISTLE_KAFKA_BOOTSTRAP"
            " 和 broker，或调大 WHISTLE_WORKER_START_DEADLINE_S"
        )
    print(line, file=sys.stderr)
    return 1
