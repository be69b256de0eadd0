"""What keeping 50 open browsers live costs the web server: three ways, side by side.

    .venv/bin/python bench/bench_live.py [--browsers 50] [--seconds 20] [--threads 8] \
        [--database-url postgres://postgres@127.0.0.1:5432/bench_live]

Fills a fresh database (SQLite in a temporary file by default; with --database-url, that
PostgreSQL database is dropped and recreated) with one team, 200 finished items and 4 in flight,
starts the app under gunicorn (one gthread worker, --threads threads, DEBUG off) and, for each
mechanism in turn, keeps N simulated browsers open on the gallery for --seconds while a writer
moves one in-flight item every 5 s (a status change, as the pipeline makes):

* per-tile polling (before): every in-flight tile GETs its own tile every 2 s (htmx
  ``hx-trigger="every 2s"``, what the grid did until now);
* conditional poll (now): one GET /live/ per page every 2 s with If-None-Match, answered 304
  while the team's version is unchanged, and the changed tiles when it is not;
* server-sent events: one stream per page, the server checking the same version every 2 s
  (``bench/live_sse.py``; gunicorn gets max(--threads, browsers + 4) threads so that every
  stream can connect at all).

For each it prints the requests per second, the answers (304/200), the server time per
request (p50/p95, from gunicorn's access log, %(D)s), and the web-thread occupancy: the sum of
server time over the wall time, i.e. how many threads were busy on average. It prints figures;
it never passes or fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fresh_database import fresh_database  # noqa: E402
from bench.servers import free_port  # noqa: E402

IN_FLIGHT = 4
POLL_SECONDS = 2.0
WRITE_EVERY = 5.0
SECRET = "bench-live-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105


def _fill(browsers: int) -> tuple[list[str], list[str]]:
    """Rows, and one logged-in session per browser; returns (session keys, in-flight ids)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from gallery.accounts.models import User
    from gallery.team.models import Membership
    from gallery.team.services import membership_add, team_create
    from tests.factories import make_item

    owner = User.objects.create_user("owner", password=None)
    team = team_create(name="Bench", owner=owner)
    users = [owner]
    for n in range(9):
        user = User.objects.create_user(f"member{n}", password=None)
        membership_add(team=team, user=user, role=Membership.Role.MEMBER)
        users.append(user)
    for n in range(200):
        make_item(team, users[n % len(users)], prompt=f"finished {n}")
    running = [
        str(make_item(team, owner, prompt=f"running {n}", status="processing").public_id)
        for n in range(IN_FLIGHT)
    ]
    # As a gallery is most of the time: nothing touched in the last minutes.
    from django.utils import timezone

    from gallery.generation.models import Generation

    Generation.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    keys = []
    for n in range(browsers):
        user = users[n % len(users)]
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        keys.append(store.session_key or "")
    return keys, running


@dataclass
class Server:
    url: str
    log: Path
    process: subprocess.Popen[bytes]
    command: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _serve(env: dict[str, str], threads: int, settings: str) -> Server:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-live-access-", suffix=".log")[1])
    args = [
        sys.executable, "-m", "gunicorn", "gallery.wsgi",
        "--worker-class", "gthread", "--workers", "1", "--threads", str(threads),
        "--bind", f"127.0.0.1:{port}", "--access-logfile", str(log),
        "--access-logformat", "%(s)s %(D)s %(U)s", "--graceful-timeout", "2",
        "--timeout", "120",
    ]  # fmt: skip
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": settings},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return Server(url, log, process, shlex.join(args))


@dataclass
class Result:
    name: str
    threads: int
    seconds: float
    statuses: dict[int, int] = field(default_factory=dict)
    server_ms: list[float] = field(default_factory=list)
    by_status: dict[int, list[float]] = field(default_factory=dict)
    streams: int = 0  # SSE: streams that connected

    @property
    def requests(self) -> int:
        return len(self.server_ms)


def _read_log(log: Path, prefix: str) -> dict[int, list[float]]:
    """Server milliseconds of each logged request under ``prefix``, by status."""
    by_status: dict[int, list[float]] = {}
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith(prefix):
            continue
        by_status.setdefault(int(parts[0]), []).append(int(parts[1]) / 1000)
    return by_status


def _writer(stop: threading.Event, running: list[str]) -> None:
    """A status change every WRITE_EVERY seconds, as the pipeline would make."""
    from django.db import connection
    from django.utils import timezone

    from gallery.generation.models import Generation

    n = 0
    while not stop.wait(WRITE_EVERY):
        Generation.objects.filter(public_id=running[n % len(running)]).update(
            updated_at=timezone.now(), checks=n
        )
        n += 1
    connection.close()


def _run(
    name: str,
    server: Server,
    keys: list[str],
    seconds: float,
    threads: int,
    running: list[str],
    browse: Callable[[httpx.Client, threading.Event], None],
    prefix: str,
) -> Result:
    stop = threading.Event()
    writer = threading.Thread(target=_writer, args=(stop, running), daemon=True)
    clients = [
        httpx.Client(base_url=server.url, cookies={"sessionid": key}, timeout=seconds + 30)
        for key in keys
    ]
    workers = [
        threading.Thread(target=browse, args=(client, stop), daemon=True) for client in clients
    ]
    server.log.write_text("")
    started = time.monotonic()
    writer.start()
    for worker in workers:
        worker.start()
        time.sleep(POLL_SECONDS / len(workers))  # pages open over one poll interval, not at once
    stop.wait(max(0.0, seconds - (time.monotonic() - started)))
    stop.set()
    for worker in workers:
        worker.join(seconds + 30)
    elapsed = time.monotonic() - started
    for client in clients:
        client.close()
    time.sleep(0.5)  # let gunicorn flush its access log
    by_status = _read_log(server.log, prefix)
    return Result(
        name,
        threads,
        elapsed,
        statuses={status: len(times) for status, times in by_status.items()},
        server_ms=[ms for times in by_status.values() for ms in times],
        by_status=by_status,
    )


def _get(client: httpx.Client, url: str, **options: object) -> httpx.Response | None:
    """A GET as a browser makes it; a dropped connection is retried by the next poll."""
    try:
        return client.get(url, **options)  # type: ignore[arg-type]
    except httpx.HTTPError:
        return None


def _per_tile(running: list[str]) -> Callable[[httpx.Client, threading.Event], None]:
    def browse(client: httpx.Client, stop: threading.Event) -> None:
        while not stop.is_set():
            for public_id in running:
                _get(client, f"/items/{public_id}/tile/")
            stop.wait(POLL_SECONDS)

    return browse


def _conditional(client: httpx.Client, stop: threading.Event) -> None:
    since = f"{time.time():.6f}"
    etag = ""
    while not stop.is_set():
        headers = {"If-None-Match": etag} if etag else {}
        response = _get(client, "/live/", params={"since": since}, headers=headers)
        if response is not None and response.status_code == 200:
            etag = response.headers.get("ETag", "")
            since = f"{time.time():.6f}"
        stop.wait(POLL_SECONDS)


def _sse(seconds: float, connected: list[int]) -> Callable[[httpx.Client, threading.Event], None]:
    lock = threading.Lock()

    def browse(client: httpx.Client, stop: threading.Event) -> None:
        try:
            with client.stream("GET", "/bench/events/", params={"seconds": seconds}) as response:
                first = True
                for _line in response.iter_lines():
                    if first:
                        with lock:
                            connected[0] += 1
                        first = False
                    if stop.is_set():
                        break
        except httpx.HTTPError:
            pass

    return browse


def _occupancy(result: Result) -> float:
    """Threads busy on average: server time over wall time; a stream holds one all along."""
    if result.streams:
        return float(result.streams)
    return sum(result.server_ms) / 1000 / result.seconds


def _row(result: Result, baseline: Result | None) -> str:
    times = sorted(result.server_ms) or [0.0]
    rate = result.requests / result.seconds
    occupancy = _occupancy(result)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    answers = ", ".join(
        f"{len(ms)} x {status} ({statistics.median(ms):.1f} ms)"
        for status, ms in sorted(result.by_status.items())
    )
    if result.streams:
        rate = result.streams / result.seconds  # one request per page, held open
        answers = f"{result.streams} streams held {result.seconds:.0f} s each"
    versus = ""
    if baseline is not None and baseline is not result and occupancy:
        base = _occupancy(baseline)
        ratio = base / occupancy if occupancy < base else occupancy / base
        versus = f"{ratio:.1f} x {'less' if occupancy < base else 'more'}"
    return (
        f"| {result.name} | {rate:.1f} | {answers} | {statistics.median(times):.1f} | {p95:.1f} "
        f"| {occupancy:.2f} of {result.threads} | {versus} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--browsers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url")
    options = parser.parse_args()

    database = fresh_database(options.database_url, prefix="bench-live-")
    var = tempfile.mkdtemp(prefix="bench-live-var-")
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "OXEN_API_KEY")},
        "DATABASE_URL": database,
        "SECRET_KEY": SECRET,
        "VAR_DIR": var,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gallery.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    keys, running = _fill(options.browsers)
    from django.db import connection

    connection.close()

    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{'PostgreSQL' if database.startswith('postgres') else 'SQLite'}, "
        f"{options.browsers} browsers, {options.seconds:.0f} s each, 1 gunicorn gthread worker"
    )
    results: list[Result] = []
    server = _serve(env, options.threads, "gallery.settings")
    try:
        results.append(
            _run("per-tile polling (before)", server, keys, options.seconds, options.threads,
                 running, _per_tile(running), "/items/")
        )  # fmt: skip
        results.append(
            _run("conditional poll /live/ (now)", server, keys, options.seconds,
                 options.threads, running, _conditional, "/live/")
        )  # fmt: skip
    finally:
        server.stop()
    sse_threads = max(options.threads, options.browsers + 4)
    server = _serve(env, sse_threads, "bench.live_settings")
    connected = [0]
    try:
        sse = _run("server-sent events", server, keys, options.seconds, sse_threads, running,
                   _sse(options.seconds, connected), "/bench/events/")  # fmt: skip
        sse.streams = connected[0]
        # A stream's log line is written when it ends: its time is the whole stream.
        results.append(sse)
    finally:
        server.stop()

    print()
    print(
        "| mechanism | requests/s | answers (median server time) | server ms p50 | p95 "
        "| busy web threads (avg) | vs before |"
    )
    print("|---|---|---|---|---|---|---|")
    for result in results:
        print(_row(result, results[0]))
    print()
    print(
        f"SSE: {sse.streams} of {options.browsers} streams connected; each holds a web thread for "
        f"its whole life, so {options.threads} gunicorn threads would serve {options.threads} "
        f"browsers and leave {max(0, options.browsers - options.threads)} waiting."
    )
    print(f"gunicorn: {server.command}")


if __name__ == "__main__":
    main()
