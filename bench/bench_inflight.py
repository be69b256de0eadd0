"""In flight at scale (issue 15): thousands of generations in flight at once on one worker
(and the ingest worker, as the Procfile runs them) against the simulator, with one POST each.

    .venv/bin/python bench/bench_inflight.py [--count 5000] [--latency 150-180] [--mode scaled]

One campaign of ``tests/reliability/campaign.py`` (real worker, beat and listener processes,
the simulator over real sockets; ``scaled``: a new PostgreSQL database on TEST_DATABASE_URL's
server and Redis at REDIS_URL on a private queue). The simulator's processing latency is set
long enough that every generation is accepted before the first one finishes, so the peak in
flight is the count. Nothing in the pipeline waits in a worker slot (no task sleeps: a service
that must look again says when, and the task re-enqueues itself), which is why one worker with
four slots can carry them all (the ingest worker stores the results). Prints the peak in
flight, POSTs and Oxen API calls per generation, completion -> visible p50/p95, how many
settled, the ingest tasks run and each process's CPU; it never passes or fails.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--latency", default="150-180", help="simulator processing, s")
    parser.add_argument("--mode", default="scaled", choices=("scaled", "embedded"))
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = [
            sys.executable, "-m", "tests.reliability.campaign", "--mode", args.mode,
            "--count", str(args.count), "--latency", args.latency,
            "--timeout", str(args.timeout), "--json", out.name,
        ]  # fmt: skip
        subprocess.run(argv, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
        report = json.loads(Path(out.name).read_text())
    n = max(1, report["generations"])
    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"{args.mode}: the Procfile's worker (threads, 4 slots) and ingest worker, beat, "
        f"listener; {report['generations']} "
        f"generations, simulator processing {args.latency} s"
    )
    print(f"peak in flight at once           {report['peak_in_flight']}")
    print(f"succeeded / failed / stuck       {report['succeeded']} / {report['failed']} / "
          f"{report['stuck']}")  # fmt: skip
    for reason in report["failures"][:3]:
        print(f"  failed because: {reason[:150]}")
    print(f"POSTs per generation             {report['posts'] / n:.3f} ({report['posts']} total)")
    print(f"Oxen API calls per generation    {report['api_calls'] / n:.2f}")
    print(f"duplicate upstream jobs          {report['duplicate_jobs']}")
    runs = report["tasks"]
    print(
        "ingest task runs                 "
        f"{runs.get('gallery.tasks.generation_completed', 0)} generation_completed, "
        f"{runs.get('gallery.tasks.generation_ingest', 0)} generation_ingest"
    )
    cpu = ", ".join(f"{name} {seconds:.0f}" for name, seconds in report["cpu_seconds"].items())
    print(f"CPU seconds                      {cpu}")
    p50, p95 = report["p50"], report["p95"]
    if p50 is not None:
        print(f"completion -> visible p50 / p95  {p50:.2f} s / {p95:.2f} s")
    print(f"all created in                   {report['submit_seconds']:.1f} s; "
          f"wall {report['wall_seconds']:.0f} s")  # fmt: skip
    print("Target (issue 15): 5,000 in flight on one worker, 1 POST each.")


if __name__ == "__main__":
    main()
