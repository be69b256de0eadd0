"""Pipeline figures: how soon an image Oxen finished is visible in the gallery, in both
deployment modes, with the event stream up, after it drops, after the listener is killed, and
with polling only (the baseline, no listener at all), side by side in one run.

    .venv/bin/python bench/bench_pipeline.py [--count 16] [--latency 4-8] [--modes embedded,scaled]

Each scenario is one campaign of ``tests/reliability/campaign.py`` in a process of its own:
the processes as the Procfile runs them (worker, ingest worker, beat, listener) against the
local simulator over real sockets, a fresh database (SQLite, or a new PostgreSQL database on
the server of TEST_DATABASE_URL) and the mode's broker (the filesystem broker, or Redis at
REDIS_URL on a private queue). "Completion -> visible" runs from the simulator marking a
generation succeeded to the gallery row being succeeded with its image and thumbnails
stored. The stream drop cuts the stream and refuses reconnects for the rest of the run; the
listener kill is a SIGKILL with no restart; both happen 1.5 s after the generations are
created, before any of them finishes, so every figure in those columns is "after". Prints
figures; passes or fails nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCENARIOS: dict[str, list[str]] = {
    "stream up": [],
    "stream dropped": ["--drop-stream-at", "1.5", "--stream-down-for", "600"],
    "listener killed": ["--kill-listener-at", "1.5"],
    "polling only (baseline)": ["--no-listener"],
}


def campaign(mode: str, count: int, latency: str, extra: list[str]) -> dict[str, object]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = [
            sys.executable, "-m", "tests.reliability.campaign", "--mode", mode,
            "--count", str(count), "--latency", latency, "--json", out.name, *extra,
        ]  # fmt: skip
        subprocess.run(argv, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
        report: dict[str, object] = json.loads(Path(out.name).read_text())
    return report


def figure(value: object) -> str:
    return "-" if value is None else f"{float(value):.2f}"  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=16, help="generations per scenario")
    parser.add_argument("--latency", default="4-8", help="simulator processing latency, s")
    parser.add_argument("--modes", default="embedded,scaled")
    args = parser.parse_args()

    print(
        f"command: .venv/bin/python bench/bench_pipeline.py --count {args.count} "
        f"--latency {args.latency} --modes {args.modes}"
    )
    print(
        f"{args.count} generations per scenario; simulator queue 0.3-1.0 s, processing "
        f"{args.latency} s; worker and ingest worker as the Procfile runs them; "
        f"PostgreSQL {os.environ.get('TEST_DATABASE_URL', '(default)')}, "
        f"Redis {os.environ.get('REDIS_URL', '(default)')}"
    )
    for mode in args.modes.split(","):
        title = {
            "embedded": "embedded: SQLite + filesystem broker",
            "scaled": "scaled: PostgreSQL + Redis",
        }[mode]
        reports = {
            name: campaign(mode, args.count, args.latency, extra)
            for name, extra in SCENARIOS.items()
        }
        print(f"\n== {title} ==")
        print(f"{'':34}" + "".join(f"{name:>25}" for name in reports))
        rows = [
            ("completion -> visible p50 (s)", "p50", "p50_after_fault"),
            ("completion -> visible p95 (s)", "p95", "p95_after_fault"),
        ]
        for label, plain, after in rows:
            cells = [figure(r[after] if r["fault_times"] else r[plain]) for r in reports.values()]
            print(f"{label:34}" + "".join(f"{c:>25}" for c in cells))
        for label, key in (
            ("succeeded / generations", None),
            ("POSTs per generation", "posts"),
            ("Oxen API calls per generation", "api_calls"),
        ):
            cells = []
            for r in reports.values():
                n = int(r["generations"])  # type: ignore[call-overload]
                if key is None:
                    cells.append(f"{r['succeeded']}/{n}")
                else:
                    cells.append(f"{int(r[key]) / n:.2f}")  # type: ignore[call-overload]
            print(f"{label:34}" + "".join(f"{c:>25}" for c in cells))


if __name__ == "__main__":
    main()
