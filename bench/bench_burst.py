"""A burst of 2K completions (issue 15): N generations that Oxen finishes at the same moment,
and how soon each is visible in the gallery, with the ingest worker as the Procfile runs it
and with one ingest slot (before issue 15), side by side in one run.

    .venv/bin/python bench/bench_burst.py [--count 100] [--modes scaled,embedded]

Each column is one campaign of ``tests/reliability/campaign.py --burst`` in a process of its
own: the processes as the Procfile runs them (worker on the default and preview queues, the
``ingest`` worker on the ingest queue, beat, listener) against the simulator over real
sockets, a fresh database and the mode's broker. The simulator draws 2048 px photo-like JPEGs
(``image_size="photo"``: ~0.7 MB, which decode like a real result, not flat shapes), renders
them all beforehand, holds every generation as processing until all are, then finishes them
in one loop. "Completion -> visible" runs from the simulator marking a generation succeeded
to the gallery row being succeeded with its image and thumbnails stored. Also printed: the
CPU seconds each process spent from the burst to the last image, and how many times the
ingest ran (more than N: duplicates). Prints figures; passes or fails nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_P95 = 5.0

# Column title -> the campaign's options for the ingest worker.
COLUMNS: dict[str, list[str]] = {
    "one ingest slot (baseline)": ["--ingest-slots", "1"],
    "threads x3 (before)": ["--ingest-pool", "threads", "--ingest-slots", "3"],
    "Procfile (now)": [],
}


def campaign(mode: str, count: int, extra: list[str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = [
            sys.executable, "-m", "tests.reliability.campaign", "--mode", mode, "--burst",
            "--image-size", "photo", "--count", str(count), "--timeout", "600",
            "--json", out.name, *extra,
        ]  # fmt: skip
        subprocess.run(argv, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
        report: dict[str, Any] = json.loads(Path(out.name).read_text())
    report["load"] = os.getloadavg()[0]
    return report


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(count: int, reports: dict[str, dict[str, Any]]) -> None:
    def row(label: str, cells: list[str]) -> None:
        print(f"{label:40}" + "".join(f"{cell:>28}" for cell in cells))

    row("", list(reports))
    values = list(reports.values())
    row("completion -> visible p50 (s)", [seconds(r["p50"]) for r in values])
    row("completion -> visible p95 (s)", [seconds(r["p95"]) for r in values])
    row("completion -> visible max (s)", [seconds(r["max"]) for r in values])
    row(
        "p95 against the target (5 s)",
        ["-" if r["p95"] is None else f"{r['p95'] / TARGET_P95:.2f}x the target" for r in values],
    )
    row("succeeded / generations", [f"{r['succeeded']}/{r['generations']}" for r in values])
    cpu_names = sorted({name for r in values for name in r["cpu_seconds"]})
    for name in cpu_names:
        row(
            f"CPU s, {name}",
            [f"{r['cpu_seconds'].get(name, 0.0):.1f}" for r in values],
        )
    row(
        "all of them / 2 cores (s): a floor",
        [f"{sum(r['cpu_seconds'].values()) / 2:.1f}" for r in values],
    )
    row(
        "cores they got until the last image",
        [
            "-" if r["max"] is None else f"{sum(r['cpu_seconds'].values()) / r['max']:.2f}"
            for r in values
        ],
    )
    row(
        "ingest worker CPU per image (ms)",
        [f"{1000 * r['cpu_seconds'].get('ingest', 0.0) / count:.0f}" for r in values],
    )
    for task in ("generation_completed", "generation_ingest", "image_preview_make"):
        row(
            f"{task} runs",
            [str(r["tasks"].get(f"gallery.tasks.{task}", 0)) for r in values],
        )
    row("load average (1 min) after", [f"{r['load']:.1f}" for r in values])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--modes", default="scaled,embedded")
    parser.add_argument(
        "--columns", default=",".join(COLUMNS), help="which of the columns to run, by title"
    )
    args = parser.parse_args()
    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    procfile = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("ingest:")
    )
    print(
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
        f"at the start; {args.count} generations of 2048 px photo-like JPEGs finished at once"
    )
    print(f"Procfile {procfile}")
    chosen = [name for name in COLUMNS if name in args.columns.split(",")]
    for mode in args.modes.split(","):
        title = {
            "embedded": "embedded: SQLite + filesystem broker",
            "scaled": "scaled: PostgreSQL + Redis",
        }[mode]
        reports = {name: campaign(mode, args.count, COLUMNS[name]) for name in chosen}
        print(f"\n== {title} ==")
        table(args.count, reports)
    print(f"\nTarget (issue 15): {args.count} simultaneous 2K completions -> visible p95 <= 5 s.")


if __name__ == "__main__":
    main()
