"""How fast ``tests.stories.random_events`` generates encoded case histories, and in how much
memory (it streams: one case at a time, whatever the count).

    .venv/bin/python bench/bench_stories.py --cases 20000
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.stories import random_events


def main() -> None:
    """Generate ``--cases`` random cases and print the rate and the peak resident memory."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    started, cpu_started = time.perf_counter(), time.process_time()
    events = size = 0
    for _, value in random_events(rng, args.cases, t0):
        events += 1
        size += len(value)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.cases:,} cases, {events:,} events ({size / events:.0f} bytes each) in "
        f"{elapsed:.1f} s: {events / elapsed:,.0f} events/s ({events / cpu:,.0f} per CPU "
        f"second), {args.cases / elapsed:,.0f} cases/s; peak RSS {peak_mib:.0f} MiB"
    )


if __name__ == "__main__":
    main()
