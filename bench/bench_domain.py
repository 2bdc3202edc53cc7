"""Benchmark of the case domain: decide+evolve throughput and rebuilding a case from events.

Run: ``.venv/bin/python bench/bench_domain.py [--cases N] [--runs R]``. Prints medians of R runs,
then the cost of one raise and one route apart (what the stream worker pays per whistle).
Not a timed test: numbers depend on the machine; record them in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.stories import T0, liaison, lifecycle_script
from whistle.domain import (
    CaseState,
    Command,
    Event,
    Rejection,
    ReportProgress,
    decide,
    encode,
    evolve,
    fold,
    load_rules,
    parse_command,
    route,
)


def run_throughput(scripts: list[list[tuple[Command, datetime]]]) -> tuple[float, float, int]:
    """decide+evolve every command of every case; returns (wall s, CPU s, commands)."""
    count = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for script in scripts:
        state: CaseState | None = None
        for command, now in script:
            result = decide(state, command, now)
            if isinstance(result, Rejection):
                raise RuntimeError(f"{command.type}: {result.code} {result.message}")
            for event in result:
                state = evolve(state, event)
            count += 1
    return time.perf_counter() - start, time.process_time() - cpu_start, count


def long_case(n_events: int) -> list[Event]:
    """A case with ``n_events`` events: raise, route, acks, then progress notes."""
    script = lifecycle_script("LONG")[:6]
    events: list[Event] = []
    state: CaseState | None = None
    for command, now in script:
        result = decide(state, command, now)
        assert isinstance(result, list)
        for event in result:
            state = evolve(state, event)
            events.append(event)
    assert state is not None
    i = 0
    while len(events) < n_events:
        i += 1
        dept = state.lead or ""
        note = ReportProgress(
            command_id=f"LONG:p{i}",
            case_id="LONG",
            actor=liaison(dept),
            department=dept,
            note=f"巡查第{i}次",
        )
        result = decide(state, note, T0 + timedelta(hours=1, seconds=i))
        assert isinstance(result, list)
        for event in result:
            state = evolve(state, event)
            events.append(event)
    return events


def cpu_micros(work: Callable[[], object], count: int, runs: int) -> float:
    """Median CPU microseconds per item of ``work`` (which handles ``count`` items)."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        work()
        times.append((time.process_time() - start) / count * 1e6)
    return statistics.median(times)


def phase_costs(scripts: list[list[tuple[Command, datetime]]], runs: int) -> dict[str, float]:
    """CPU µs per command of a raise and of a route, each over every case of ``scripts``.

    decide+evolve as in the throughput run; ``route()`` builds the RouteCase from the raised
    case (rule lookup, clock plans on the business calendar, ladder); ``parse_command`` decodes
    the command's JSON as the stream worker does before deciding.
    """
    raises = [script[0][0] for script in scripts]
    routes = [script[1][0] for script in scripts]
    raised: list[CaseState] = []
    for command in raises:
        result = decide(None, command, T0)
        assert isinstance(result, list)
        raised.append(evolve(None, result[0]))
    rules = load_rules()
    raise_json = [encode(c) for c in raises]
    route_json = [encode(c) for c in routes]

    def decide_and_evolve(state: CaseState | None, command: Command) -> None:
        result = decide(state, command, T0)
        if isinstance(result, Rejection):
            raise RuntimeError(f"{command.type}: {result.code} {result.message}")
        for event in result:
            state = evolve(state, event)

    def raise_all() -> None:
        for command in raises:
            decide_and_evolve(None, command)

    def route_all() -> None:
        for state, command in zip(raised, routes, strict=True):
            decide_and_evolve(state, command)

    n = len(scripts)
    return {
        "raise: decide+evolve": cpu_micros(raise_all, n, runs),
        "route: decide+evolve": cpu_micros(route_all, n, runs),
        "route(): build the RouteCase": cpu_micros(
            lambda: [route(rules, state, T0) for state in raised], n, runs
        ),
        "parse_command(RaiseWhistle JSON)": cpu_micros(
            lambda: [parse_command(raw) for raw in raise_json], n, runs
        ),
        "parse_command(RouteCase JSON)": cpu_micros(
            lambda: [parse_command(raw) for raw in route_json], n, runs
        ),
    }


def calibrate() -> float:
    """CPU nanoseconds to build an 8-key dict: a rough yardstick of this machine's Python speed."""
    timer = timeit.Timer("dict(a=1, b=2, c=3, d=4, e=5, f=6, g=7, h=8)", timer=time.process_time)
    runs = [timer.timeit(number=100_000) / 100_000 for _ in range(5)]
    return min(runs) * 1e9


def main() -> None:
    """Run both benchmarks and print medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()

    scripts = [lifecycle_script(f"C{i:06d}") for i in range(args.cases)]
    run_throughput(scripts[:50])  # warm up caches
    rates, cpu_rates, units = [], [], []
    for _ in range(args.runs):
        before = calibrate()
        seconds, cpu_seconds, count = run_throughput(scripts)
        after = calibrate()
        rates.append(count / seconds)
        cpu_rates.append(count / cpu_seconds)
        units.append(cpu_seconds / count / (min(before, after) * 1e-9))
    per_case = len(scripts[0])

    events = long_case(args.events)
    fold(events)
    rebuilds, cpu_rebuilds = [], []
    for _ in range(max(args.runs, 20)):
        start, cpu_start = time.perf_counter(), time.process_time()
        fold(events)
        rebuilds.append(time.perf_counter() - start)
        cpu_rebuilds.append(time.process_time() - cpu_start)

    phases = phase_costs(scripts, max(args.runs, 5))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"python {platform.python_version()} on {platform.machine()} ({platform.system()}), "
        f"{os.cpu_count()} CPUs, load average {load:.2f}; "
        f"calibration: dict(8 keys) {calibrate():.0f} ns"
    )
    print(
        f"decide+evolve: median {statistics.median(rates):,.0f} commands/s wall clock "
        f"(min {min(rates):,.0f}, max {max(rates):,.0f}), "
        f"{statistics.median(cpu_rates):,.0f} commands/s of process CPU time; "
        f"{args.runs} runs × {args.cases} cases × {per_case} commands"
    )
    print(
        f"cost: median {statistics.median(units):.1f} calibration units (8-key dict builds) of "
        "CPU time per command — compare machines by the calibration figure"
    )
    print(
        f"rebuild {len(events)} events: median {statistics.median(rebuilds) * 1000:.2f} ms wall "
        f"(min {min(rebuilds) * 1000:.2f}, max {max(rebuilds) * 1000:.2f}), "
        f"{statistics.median(cpu_rebuilds) * 1000:.2f} ms CPU; {len(rebuilds)} runs"
    )
    print(f"per command, CPU median of {max(args.runs, 5)} passes over {args.cases} cases:")
    for name, micros in phases.items():
        print(f"  {name:34s} {micros:7.1f} µs")


if __name__ == "__main__":
    main()
