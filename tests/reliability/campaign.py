"""One campaign: the whole pipeline, real processes, one deployment mode, faults while it runs.

    .venv/bin/python -m tests.reliability.campaign --mode embedded|scaled [options] [--json F]

The harness behind ``tests/reliability/test_pipeline_faults.py`` and ``bench/bench_pipeline.py``.
It runs in a process of its own because Django's settings are per process:

* a fresh database: a SQLite file (``embedded``) or a new PostgreSQL database on the server of
  ``TEST_DATABASE_URL``, dropped afterwards (``scaled``);
* the broker and cache of the mode: kombu's filesystem transport and files under a scratch
  ``VAR_DIR`` (``embedded``), or Redis (``REDIS_URL``) on a private queue and key prefix
  (``scaled``);
* the local Oxen simulator in this process, over real sockets, with the scenarios asked for;
* the processes as the Procfile runs them (``bin/run`` and docker compose): the worker on the
  default and preview queues, the ``ingest`` worker on the ingest queue, beat and the event
  listener, as subprocesses, each in its own process group so one can be SIGKILLed.

It creates the generations, applies the faults on a schedule, waits until every generation
has settled, stops everything and reports, as JSON: what Oxen billed, how many billed images
the gallery does not hold (discarded), how many upstream jobs beyond one per image (duplicate
POSTs), how many rows never settled (stuck), and for every image the seconds from Oxen
finishing it to the gallery showing it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
SECRET = "campaign-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


# -- processes -----------------------------------------------------------------------------------


def procfile_commands(names: tuple[str, ...]) -> dict[str, list[str]]:
    """The Procfile's commands for ``names``, as arguments after the Python executable
    (``celery ...`` becomes ``-m celery ...``, ``python ...`` its arguments), with its
    ``${VAR:-default}`` references left for :meth:`Fleet.start` to expand from the fleet's
    environment: the campaigns run the processes exactly as ``bin/run`` and compose do."""
    lines = dict(
        line.split(":", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    commands = {}
    for name in names:
        argv = shlex.split(lines[name])
        if argv[0] == "exec":
            argv = argv[1:]
        program, *rest = argv
        commands[name] = ["-m", "celery", *rest] if program == "celery" else rest
    return commands


def expand(argument: str, env: dict[str, str]) -> str:
    """``${VAR:-default}`` and ``$VAR`` as the shell expands them, from ``env``."""

    def value(match: re.Match[str]) -> str:
        if match[1]:
            return env.get(match[1]) or match[2]
        return env.get(match[3], "")

    return re.sub(r"\$\{(\w+):-([^}]*)\}|\$(\w+)", value, argument)


class Fleet:
    """The worker, the ingest worker, beat and listener as subprocesses, started and killed
    by name, each with the Procfile's command (the queues it names are the environment's
    ``CELERY_QUEUE``: a private one per campaign in ``scaled`` mode)."""

    COMMANDS = procfile_commands(("worker", "ingest", "beat", "listener"))

    def __init__(
        self, env: dict[str, str], logs: Path, options: dict[str, dict[str, str]] | None = None
    ) -> None:
        self.env = env
        self.logs = logs
        # Options instead of the Procfile's, by process: {"ingest": {"--concurrency": "1"}}.
        self.options = options or {}
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.starts = 0

    def argv(self, name: str) -> list[str]:
        """The command of ``name`` after the Python executable, its variables expanded."""
        argv = [expand(argument, self.env) for argument in self.COMMANDS[name]]
        for option, value in self.options.get(name, {}).items():
            argv[argv.index(option) + 1] = value
        return argv

    def start(self, name: str) -> None:
        self.starts += 1
        argv = self.argv(name)
        if name == "beat":
            argv += ["--schedule", str(self.logs / f"beat-{self.starts}")]
        log = (self.logs / f"{name}-{self.starts}.log").open("wb")
        self.running[name] = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        """SIGKILL, process group and all: no goodbye, no cleanup."""
        process = self.running.pop(name, None)
        if process is not None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.running.values():
            os.killpg(process.pid, signal.SIGTERM)
        for name, process in list(self.running.items()):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            self.running.pop(name)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each running process has used, by name, with its
        children's (a prefork pool's, live or reaped): the sum over its process group."""
        tick = os.sysconf("SC_CLK_TCK")
        used = dict.fromkeys(self.running, 0.0)
        groups = {process.pid: name for name, process in self.running.items()}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            name = groups.get(int(fields[2]))  # its process group: a fleet process's pid
            if name is None:
                continue
            ticks = int(fields[11]) + int(fields[12])  # utime, stime
            if int(stat.parent.name) in groups:
                ticks += int(fields[13]) + int(fields[14])  # reaped children's
            used[name] += ticks / tick
        return used

    def tasks_run(self) -> dict[str, int]:
        """How many times each task ran, from the processes' logs (duplicates show here)."""
        runs: dict[str, int] = {}
        for log in self.logs.glob("*.log"):
            for match in re.finditer(r"Task ([\w.]+)\[[^\]]+\] succeeded", log.read_text()):
                runs[match[1]] = runs.get(match[1], 0) + 1
        return dict(sorted(runs.items()))

    def tail(self, chars: int = 4000) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}"
            for p in sorted(self.logs.glob("*.log"))
        )


# -- the plan --------------------------------------------------------------------------------


@dataclass
class Plan:
    mode: str
    count: int = 24
    latency: tuple[float, float] = (2.0, 4.0)
    rate_limit_every: int = 0
    retry_after: int = 2
    flaky: float = 0.0
    restart_at: float | None = None
    restart_downtime: float = 3.0
    drop_stream_at: float | None = None
    stream_down_for: float = 0.0
    kill_listener_at: float | None = None
    listener_down_for: float | None = None  # None: not started again
    listener: bool = True
    timeout: float = 300.0
    orphan_grace: int = 5
    # The simulator's results: "small" (256 px for 2K), or "photo" (2048 px, photo-like).
    image_size: str = "small"
    # The ingest worker's slots and pool instead of the Procfile's (the burst bench's
    # baselines: one slot; threads).
    ingest_slots: int | None = None
    ingest_pool: str | None = None
    # Hold every generation upstream until all are processing, then finish them at once.
    burst: bool = False
    # Faults are timed from the moment every generation has been created.
    events: list[tuple[float, str]] = field(default_factory=list)


def parse(argv: list[str] | None = None) -> tuple[Plan, str | None]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("embedded", "scaled"), required=True)
    p.add_argument("--count", type=int, default=24)
    p.add_argument("--latency", default="2-4", help="simulator processing latency, s")
    p.add_argument("--rate-limit-every", type=int, default=0)
    p.add_argument("--retry-after", type=int, default=2)
    p.add_argument("--flaky", type=float, default=0.0)
    p.add_argument("--restart-at", type=float)
    p.add_argument("--restart-downtime", type=float, default=3.0)
    p.add_argument("--drop-stream-at", type=float)
    p.add_argument("--stream-down-for", type=float, default=0.0)
    p.add_argument("--kill-listener-at", type=float)
    p.add_argument("--listener-down-for", type=float)
    p.add_argument("--no-listener", action="store_true")
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--image-size", choices=("small", "photo"), default="small")
    p.add_argument("--ingest-slots", type=int)
    p.add_argument("--ingest-pool", choices=("prefork", "threads", "solo"))
    p.add_argument(
        "--burst",
        action="store_true",
        help="finish every generation at one moment, once all are processing upstream",
    )
    p.add_argument("--json")
    args = p.parse_args(argv)
    low, _, high = args.latency.partition("-")
    plan = Plan(
        mode=args.mode,
        count=args.count,
        latency=(float(low), float(high or low)),
        rate_limit_every=args.rate_limit_every,
        retry_after=args.retry_after,
        flaky=args.flaky,
        restart_at=args.restart_at,
        restart_downtime=args.restart_downtime,
        drop_stream_at=args.drop_stream_at,
        stream_down_for=args.stream_down_for,
        kill_listener_at=args.kill_listener_at,
        listener_down_for=args.listener_down_for,
        listener=not args.no_listener,
        timeout=args.timeout,
        image_size=args.image_size,
        ingest_slots=args.ingest_slots,
        ingest_pool=args.ingest_pool,
        burst=args.burst,
    )
    return plan, args.json


# -- the environment of a mode -------------------------------------------------------------------


def environment(plan: Plan, workdir: Path, sim_url: str, key: str) -> tuple[dict[str, str], str]:
    """The process environment for ``plan.mode``, and a database to drop afterwards (or "")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "OXEN_API_KEY_FILE", "S3_BUCKET", "CELERY_QUEUE"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="gallery.settings",
        VAR_DIR=str(workdir / "var"),
        MEDIA_ROOT=str(workdir / "media"),
        SECRET_KEY=SECRET,
        OXEN_API_KEY=key,
        OXEN_BASE_URL=sim_url,
        OXEN_SIMULATOR="true",
        GENERATION_ORPHAN_GRACE_SECONDS=str(plan.orphan_grace),
        # At 20 % of POSTs answered by a 503 page, five in a row for one image happen about
        # once in 3,000 images; the campaigns count losses and duplicates, so they allow more
        # re-sends of a POST proved absent (the cap itself: tests/gallery/test_pipeline.py).
        GENERATION_MAX_ATTEMPTS="10",
        GENERATION_STALE_SECONDS="20",
        LOG_LEVEL="INFO",
    )
    database = ""
    if plan.mode == "embedded":
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'db.sqlite3'}"
    else:
        server = postgres_server()
        database = f"campaign_{uuid.uuid4().hex[:12]}"
        _postgres(server, f'CREATE DATABASE "{database}"')
        parts = urlsplit(server)
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{database}"))
        env["REDIS_URL"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        env["CELERY_QUEUE"] = f"campaign-{uuid.uuid4().hex[:12]}"
        env["DB_CONN_MAX_AGE"] = "0"
        env["CELERY_VISIBILITY_TIMEOUT"] = "300"
    return env, database


def postgres_server() -> str:
    """The PostgreSQL server the suite uses (``bin/test`` exports it as DATABASE_URL)."""
    database_url = os.environ.get("DATABASE_URL", "")
    return (
        os.environ.get("TEST_DATABASE_URL")
        or (database_url if database_url.startswith("postgres") else "")
        or "postgres://postgres@127.0.0.1:5432/test"
    )


def _postgres(server: str, statement: str) -> None:
    import psycopg

    parts = urlsplit(server)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(statement)


# -- running it ----------------------------------------------------------------------------------


def run(plan: Plan) -> dict[str, Any]:
    from seedream.simulator import Simulator, SimulatorConfig

    workdir = Path(tempfile.mkdtemp(prefix=f"campaign-{plan.mode}-"))
    logs = workdir / "logs"
    logs.mkdir()
    config = SimulatorConfig(
        api_key=f"campaign-key-{uuid.uuid4().hex[:12]}",
        queue_latency=(0.3, 1.0),
        # A burst is finished by the campaign, never by the clock.
        processing_latency=(86400.0, 86400.0) if plan.burst else plan.latency,
        image_size=plan.image_size,
        log_requests=False,
        rate_limit_retry_after=plan.retry_after,
    )
    with Simulator(config).start() as sim:
        server = postgres_server()
        env, database = environment(plan, workdir, sim.base_url, sim.api_key)
        os.environ.clear()
        os.environ.update(env)
        try:
            return _campaign(plan, sim, env, logs)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)  # the report carries the logs it needs
            if database:
                from django.db import connections

                connections.close_all()
                _postgres(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _campaign(plan: Plan, sim: Any, env: dict[str, str], logs: Path) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from gallery import oxen
    from gallery.accounts.models import User
    from gallery.generation.create import generation_request_create
    from gallery.generation.models import Generation
    from gallery.team.services import team_create

    call_command("migrate", verbosity=0)
    author = User.objects.create_user("campaign")
    team = team_create(name="Campaign", owner=author)
    ingest = {"--concurrency": plan.ingest_slots, "--pool": plan.ingest_pool}
    fleet = Fleet(
        env, logs, options={"ingest": {k: str(v) for k, v in ingest.items() if v is not None}}
    )
    for name in ("worker", "ingest", "beat", *(("listener",) if plan.listener else ())):
        fleet.start(name)
    if plan.listener:
        _wait(lambda: sim.sse_connections() > 0, 30, "the listener to connect", fleet)
    else:
        time.sleep(3)  # the worker to come up
    schema = oxen.get_schema(model=settings.OXEN_MODEL)
    # The standing faults start with the generations, not while the processes come up.
    sim.set_scenarios(rate_limit_every=plan.rate_limit_every, flaky_5xx_rate=plan.flaky)

    started = time.time()
    ids: list[int] = []
    remaining = plan.count
    while remaining:
        batch = min(4, remaining)
        request = generation_request_create(
            team=team,
            author=author,
            prompt=f"campaign {remaining}",
            parameters={"size": "2K"},
            references=[],
            batch_size=batch,
            schema=schema,
            model=settings.OXEN_MODEL,
        )
        ids.extend(request.generations.values_list("pk", flat=True))
        remaining -= batch
    created = time.time()

    faults = _schedule(plan, sim, fleet)
    cpu_before = {**fleet.cpu_seconds(), "simulator and harness": time.process_time()}
    if plan.burst:
        _burst(plan, sim, fleet)
        cpu_before = {**fleet.cpu_seconds(), "simulator and harness": time.process_time()}
        for generation_id in [job["generation_id"] for job in sim.generations()]:
            sim.finish(generation_id)
    settled = _wait_settled(ids, plan.timeout)
    cpu_after = {**fleet.cpu_seconds(), "simulator and harness": time.process_time()}
    cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_before if name in cpu_after}
    for timer in faults:
        timer.cancel()
    fleet.stop_all()
    sim.set_scenarios(rate_limit_every=0, flaky_5xx_rate=0.0)
    sim.clear_faults()

    rows = list(Generation.objects.filter(team=team))
    report = _report(plan, sim, rows, created, started)
    report["tasks"] = fleet.tasks_run()
    report["settled_in_time"] = settled
    report["cpu_seconds"] = cpu  # of each process, from the burst (or the faults) to settling
    report["fault_times"] = {name: at - created for at, name in plan.events}
    if not settled or report["discarded"] or report["stuck"] or report["duplicate_jobs"]:
        report["logs"] = fleet.tail()
    return report


def _schedule(plan: Plan, sim: Any, fleet: Fleet) -> list[threading.Timer]:
    """Start the faults' timers (seconds from now, when every generation exists)."""
    timers: list[threading.Timer] = []

    def at(delay: float | None, name: str, action: Callable[[], None]) -> None:
        if delay is None:
            return

        def fire() -> None:
            plan.events.append((time.time(), name))
            action()

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        timer.start()
        timers.append(timer)

    def drop_stream() -> None:
        if plan.stream_down_for:
            sim.inject("GET /api/events", status=503, times=None)  # reconnects refused too
        sim.sse("drop")
        if plan.stream_down_for:
            at(plan.stream_down_for, "stream back", sim.clear_faults)

    def kill_listener() -> None:
        fleet.kill("listener")
        if plan.listener_down_for is not None:
            at(plan.listener_down_for, "listener back", lambda: fleet.start("listener"))

    at(plan.restart_at, "oxen restart", lambda: sim.restart_soon(plan.restart_downtime))
    at(plan.drop_stream_at, "stream drop", drop_stream)
    at(plan.kill_listener_at, "listener kill", kill_listener)
    return timers


def _burst(plan: Plan, sim: Any, fleet: Fleet) -> None:
    """Wait until Oxen holds every generation as processing, and render their results
    beforehand, so the simulator draws nothing while the gallery ingests the burst."""

    def all_processing() -> bool:
        jobs = [sim.state.get(job["generation_id"]) for job in sim.generations()]
        return len(jobs) >= plan.count and all(
            job.status == "processing" and job.references is not None for job in jobs
        )

    _wait(all_processing, plan.timeout, "every generation to be processing upstream", fleet)
    for job in sim.generations():
        sim.state.render(sim.state.get(job["generation_id"]))
    time.sleep(2)  # the sweeps and polls of the submissions settle down


def _wait(condition: Callable[[], bool], timeout: float, what: str, fleet: Fleet) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    fleet.stop_all()
    raise SystemExit(f"timed out waiting for {what}\n{fleet.tail()}")


def _wait_settled(ids: list[int], timeout: float) -> bool:
    from gallery.generation.models import Generation

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Generation.objects.filter(pk__in=ids).exclude(status__in=Generation.TERMINAL):
            return True
        time.sleep(0.25)
    return False


def _report(
    plan: Plan, sim: Any, rows: list[Any], created: float, started: float
) -> dict[str, Any]:
    from gallery.generation.models import GalleryImage, Generation

    upstream = [g for g in sim.generations() if g.get("target_directory")]
    per_directory: dict[str, int] = {}
    for job in upstream:
        per_directory[job["target_directory"]] = per_directory.get(job["target_directory"], 0) + 1
    by_upstream = {row.upstream_id: row for row in rows if row.upstream_id}
    stored = set(
        GalleryImage.objects.filter(generation__in=rows).values_list(
            "generation__upstream_id", flat=True
        )
    )
    billed = [job for job in upstream if job["status"] == "succeeded"]
    discarded = [job["generation_id"] for job in billed if job["generation_id"] not in stored]
    failed_upstream = {job["generation_id"] for job in upstream if job["status"] == "failed"}
    failed = [row for row in rows if row.status == "failed"]
    latencies, after_fault = [], []
    first_fault = min((at for at, _ in plan.events), default=None)
    for row in rows:
        job = sim.state.get(row.upstream_id) if row.upstream_id else None
        if row.status != "succeeded" or job is None or not job.completed_at:
            continue
        seconds = row.finished_at.timestamp() - job.completed_at
        latencies.append(seconds)
        if first_fault is not None and job.completed_at >= first_fault:
            after_fault.append(seconds)
    counters = sim.counters()
    slowest = sorted(
        (r for r in rows if r.finished_at),
        key=lambda r: r.finished_at - r.created_at,
        reverse=True,
    )[:3]
    return {
        "slowest": [
            {
                "seconds": (r.finished_at - r.created_at).total_seconds(),
                "attempts": r.attempts,
                "moves": [(status, at[11:23]) for status, at in r.transitions],
            }
            for r in slowest
        ],
        "mode": plan.mode,
        "generations": len(rows),
        "succeeded": sum(1 for r in rows if r.status == Generation.Status.SUCCEEDED),
        "failed": len(failed),
        "failed_because_oxen_failed_them": sum(
            1 for r in failed if r.upstream_id in failed_upstream
        ),
        "failures": sorted({r.last_error for r in failed}),
        "stuck": sum(1 for r in rows if r.status not in Generation.TERMINAL),
        "billed": len(billed),
        "discarded": len(discarded),
        "duplicate_jobs": sum(n - 1 for n in per_directory.values() if n > 1),
        "unknown_upstream": sum(1 for job in billed if job["generation_id"] not in by_upstream),
        "posts": counters.get("POST /api/ai/queue", 0),
        "api_calls": sum(
            n
            for route, n in counters.items()
            if route.startswith(("GET /api/ai", "POST", "DELETE"))
        ),
        "latencies": latencies,
        "latencies_after_fault": after_fault,
        "p50": _percentile(latencies, 50),
        "p95": _percentile(latencies, 95),
        "max": max(latencies, default=None),
        "p50_after_fault": _percentile(after_fault, 50),
        "p95_after_fault": _percentile(after_fault, 95),
        "peak_in_flight": _peak_in_flight(rows),
        "submit_seconds": created - started,
        "wall_seconds": time.time() - started,
        "finished_at": datetime.now().isoformat(timespec="seconds"),
    }


def _peak_in_flight(rows: list[Any]) -> int:
    """The most generations at once that Oxen had accepted and the gallery had not finished
    (from each row's recorded moves: queued, then a terminal state), issue 15."""
    from gallery.generation.models import Generation

    edges: list[tuple[str, int]] = []
    for row in rows:
        moves = dict(row.transitions) if row.transitions else {}
        start = moves.get("queued") or moves.get("processing")
        end = next((at for status, at in row.transitions if status in Generation.TERMINAL), None)
        if start:
            edges.append((start, 1))
            if end:
                edges.append((end, -1))
    peak = current = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        current += step
        peak = max(peak, current)
    return peak


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def main(argv: list[str] | None = None) -> None:
    plan, out = parse(argv)
    sys.path.insert(0, str(ROOT))
    report = run(plan)
    text = json.dumps(report, indent=2, default=str)
    if out:
        Path(out).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
