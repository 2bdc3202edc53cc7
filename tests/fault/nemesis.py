"""Faults at random moments: kill -9 of stream workers and projectors, hard restarts of the
broker and of PostgreSQL. Children that exit by themselves are counted (a failure, even in
their own start-up) and started again so that the run can finish."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field

from tests.fault.services import PrivateServices
from tests.integration.streams.test_kill import until_serving
from whistle.service.process_supervisor import Supervisor


@dataclass
class Fleet:
    """The suite's children, how to start each, and what happened to them."""

    supervisor: Supervisor
    commands: dict[str, tuple[str, ...]]
    web_ports: dict[str, int] = field(default_factory=dict)
    """Children that say when they are working (stream workers' /metrics)."""
    kills: dict[str, int] = field(default_factory=dict)
    unexpected_exits: list[str] = field(default_factory=list)
    """Children that exited by themselves, in their start-up or later: bugs (every component
    waits for a restarting broker or PostgreSQL, stream workers in their start-up too)."""
    started_at: dict[str, float] = field(default_factory=dict)

    def start_all(self) -> None:
        """Start every child."""
        for name in self.commands:
            self.start(name)

    def start(self, name: str) -> None:
        """Start one child."""
        self.supervisor.start(name, *self.commands[name])
        self.started_at[name] = time.monotonic()

    def kill(self, name: str) -> None:
        """kill -9 one child (its whole process group) and reap it."""
        self.supervisor.kill(name)
        self.kills[name] = self.kills.get(name, 0) + 1

    def restart_exited(self) -> None:
        """Start again any child that exited by itself, and note it (a component that does
        not survive a fault is a bug)."""
        for name, child in list(self.supervisor.children.items()):
            code = child.poll()
            if code is not None:
                uptime = time.monotonic() - self.started_at[name]
                note = f"{name} exited {code} at {time.strftime('%X')} after {uptime:.0f} s"
                self.unexpected_exits.append(note)
                self.supervisor.children.pop(name)
                self.start(name)


@dataclass
class Plan:
    """How many faults of each kind, and which children may be killed."""

    cycles: int
    broker_restarts: int
    pg_restarts: int
    targets: tuple[str, ...]
    gap_s: tuple[float, float] = (1.0, 5.0)
    down_s: tuple[float, float] = (0.0, 3.0)

    def actions(self, rng: random.Random) -> list[str]:
        """The faults in a random order (never a restart as the very first)."""
        kinds = ["kill"] * self.cycles + ["broker"] * self.broker_restarts
        kinds += ["postgres"] * self.pg_restarts
        rng.shuffle(kinds)
        return kinds


@dataclass
class FaultLog:
    """What the nemesis did, in order."""

    done: list[str] = field(default_factory=list)


async def watch(fleet: Fleet, stop: asyncio.Event) -> None:
    """Restart children that die by themselves until ``stop``."""
    while not stop.is_set():
        fleet.restart_exited()
        await asyncio.sleep(1.0)


async def working(fleet: Fleet, name: str) -> None:
    """Until a stream worker serves again after its last start (bounded), so each kill
    interrupts real work rather than a start-up."""
    port = fleet.web_ports.get(name)
    if port is not None:
        with contextlib.suppress(AssertionError):
            await until_serving(port)


async def unleash(
    plan: Plan, fleet: Fleet, services: PrivateServices, rng: random.Random, log: FaultLog
) -> None:
    """Carry out the plan's faults one after another, at random moments."""
    for kind in plan.actions(rng):
        await asyncio.sleep(rng.uniform(*plan.gap_s))
        down = rng.uniform(*plan.down_s)
        began = time.monotonic()
        if kind == "kill":
            target = rng.choice(plan.targets)
            await working(fleet, target)
            await asyncio.sleep(rng.uniform(*plan.gap_s) / 2)  # somewhere inside its work
            fleet.kill(target)
            await asyncio.sleep(down / 2)
            fleet.start(target)
            what = f"kill -9 {target}"
        elif kind == "broker":
            await asyncio.to_thread(services.restart_kafka, down)
            what = "kill -9 + start kafka"
        else:
            await asyncio.to_thread(services.restart_postgres, down)
            what = "kill -9 + start postgres"
        log.done.append(f"{time.strftime('%X')} {what} ({time.monotonic() - began:.1f} s)")
        print(log.done[-1], flush=True)
