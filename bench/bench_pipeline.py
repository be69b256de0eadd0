"""Pipeline figures: Oxen calls per generation, completion-to-ingest latency, and many
generations in flight on one worker slot.

    .venv/bin/python bench/bench_pipeline.py [--small 24] [--many 500] [--latency 8-16]

Runs the real processes: a Celery worker with ONE slot (``--pool solo``), beat and the event
listener, against the local Oxen simulator (in this process, over a real socket), a fresh
SQLite database and Redis (``REDIS_URL``, default redis://127.0.0.1:6379/0; a private queue).
Each scenario runs twice side by side: with the event listener up, and with polling only (the
baseline). Prints figures; passes or fails nothing.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def configure(workdir: Path, redis_url: str, queue: str, sim_url: str, key: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "VAR_DIR": str(workdir / "var"),
        "MEDIA_ROOT": str(workdir / "media"),
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": queue,
        "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "OXEN_API_KEY": key,
        "OXEN_BASE_URL": sim_url,
        "OXEN_SIMULATOR": "true",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "gallery.settings",
    }
    os.environ.update(env)
    return {**os.environ, **env}


class Fleet:
    """Worker (one slot), beat and optionally the listener, as subprocesses."""

    def __init__(self, env: dict[str, str], logs: Path, *, listener: bool) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        commands = [
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "gallery",
                "worker",
                "--pool",
                "solo",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "WARNING",
            ],
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "gallery",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(logs / f"beat-{uuid.uuid4().hex}"),
            ],
        ]
        if listener:
            commands.append([sys.executable, "manage.py", "oxen_listen"])
        for index, argv in enumerate(commands):
            log = (logs / f"proc-{uuid.uuid4().hex[:6]}-{index}.log").open("wb")
            self.procs.append(
                subprocess.Popen(
                    argv,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def stop(self) -> None:
        for proc in self.procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def run_scenario(count: int, *, listener: bool, sim, env, logs: Path) -> dict[str, float]:
    from django.conf import settings
    from django.core.cache import cache

    from gallery import oxen
    from gallery.accounts.models import User
    from gallery.generation.create import generation_request_create
    from gallery.generation.models import Generation
    from gallery.team.models import Team

    sim.reset()
    cache.delete(oxen.LISTENER_HEARTBEAT_KEY)
    Generation.objects.all().delete()
    fleet = Fleet(env, logs, listener=listener)
    time.sleep(4)  # let the worker and listener connect
    team = Team.objects.get(name="Bench")
    user = User.objects.get(username="bench")
    schema = oxen.get_schema(model=settings.OXEN_MODEL)
    started = time.monotonic()
    ids: list[int] = []
    remaining = count
    while remaining:
        batch = min(4, remaining)
        request = generation_request_create(
            team=team,
            author=user,
            prompt=f"bench {remaining}",
            parameters={"size": "2K"},
            references=[],
            batch_size=batch,
            schema=schema,
            model="bytedance-seedream-4-5",
        )
        ids.extend(request.generations.values_list("pk", flat=True))
        remaining -= batch
    submitted = time.monotonic() - started
    peak_in_flight = 0
    while True:
        in_flight = Generation.objects.filter(status__in=["queued", "processing"]).count()
        peak_in_flight = max(peak_in_flight, in_flight)
        left = Generation.objects.exclude(status__in=["succeeded", "failed", "cancelled"]).count()
        if left == 0 or time.monotonic() - started > 900:
            break
        time.sleep(0.25)
    wall = time.monotonic() - started
    fleet.stop()

    rows = list(Generation.objects.filter(pk__in=ids))
    counters = sim.counters()
    shared_lists = counters.get("GET /api/ai/queue", 0)
    per_generation, per_generation_api, to_ingest = [], [], []
    for row in rows:
        calls = sim.generation_counters(row.upstream_id) if row.upstream_id else {}
        api_calls = sum(n for route, n in calls.items() if not route.startswith("GET /api/repos"))
        per_generation.append(sum(calls.values()) + shared_lists / len(rows))
        per_generation_api.append(api_calls + shared_lists / len(rows))
        upstream = sim.state.get(row.upstream_id) if row.upstream_id else None
        downloading = next((at for status, at in row.transitions if status == "downloading"), None)
        if upstream and upstream.completed_at and downloading:
            to_ingest.append(
                datetime.fromisoformat(downloading).timestamp() - upstream.completed_at
            )
    posts = counters.get("POST /api/ai/queue", 0)
    return {
        "generations": len(rows),
        "succeeded": sum(1 for r in rows if r.status == "succeeded"),
        "posts per generation": posts / len(rows),
        "calls per gen (median, API)": statistics.median(per_generation_api),
        "calls per gen (median, +download)": statistics.median(per_generation),
        "calls per gen (p99, API)": sorted(per_generation_api)[int(len(rows) * 0.99) - 1],
        "completion->ingest median s": statistics.median(to_ingest) if to_ingest else float("nan"),
        "completion->ingest p95 s": (
            sorted(to_ingest)[int(len(to_ingest) * 0.95) - 1] if to_ingest else float("nan")
        ),
        "peak in flight upstream": peak_in_flight,
        "submit all (s)": submitted,
        "wall time (s)": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=24, help="generations in the calls scenario")
    parser.add_argument("--many", type=int, default=500, help="generations in flight at once")
    parser.add_argument("--latency", default="8-16", help="simulator processing latency, s")
    args = parser.parse_args()
    low, _, high = args.latency.partition("-")
    latency = (float(low), float(high or low))

    from seedream.simulator import Simulator, SimulatorConfig

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    logs = workdir / "logs"
    logs.mkdir()
    config = SimulatorConfig(
        api_key="bench-key-0123456789",
        queue_latency=(0.5, 1.5),
        processing_latency=latency,
        image_size="small",
        log_requests=False,
    )
    with Simulator(config).start() as sim:
        env = configure(
            workdir, redis_url, f"bench-{uuid.uuid4().hex[:8]}", sim.base_url, sim.api_key
        )
        import django

        django.setup()
        from django.core.management import call_command

        from gallery.accounts.models import User
        from gallery.team.services import team_create

        call_command("migrate", verbosity=0)
        team_create(name="Bench", owner=User.objects.create_user("bench"))

        print(
            f"command: .venv/bin/python bench/bench_pipeline.py --small {args.small} "
            f"--many {args.many} --latency {args.latency}"
        )
        print(
            f"simulator latency: queue 0.5-1.5 s, processing {latency[0]}-{latency[1]} s; "
            f"one worker slot (--pool solo); broker {redis_url}; SQLite"
        )
        for title, count in (
            ("calls per generation", args.small),
            ("many in flight, one worker slot", args.many),
        ):
            with_stream = run_scenario(count, listener=True, sim=sim, env=env, logs=logs)
            polling = run_scenario(count, listener=False, sim=sim, env=env, logs=logs)
            print(f"\n== {title}: {count} generations ==")
            print(f"{'':38} {'event stream up':>16} {'polling only':>16}")
            for key in with_stream:
                a, b = with_stream[key], polling[key]
                print(f"{key:38} {a:16.2f} {b:16.2f}")


if __name__ == "__main__":
    main()
