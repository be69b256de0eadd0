"""A load test of the whole app with locust (issue 15): headless, bounded, loopback only.

    .venv/bin/pip install -e '.[bench]'   # locust
    .venv/bin/python bench/bench_locust.py [--users 20] [--seconds 60] [--items 600] \
        [--database-url postgres://postgres@127.0.0.1:5432/bench_locust]

Makes a fresh database (SQLite in a temporary file by default) with one team, 20 members and
--items finished items (their thumbnails on disk), a logged-in session per member, then starts
the local Oxen simulator, the app under gunicorn as the Procfile does (2 workers x 4 threads,
DEBUG off) and one Celery worker (threads, 4 slots, every queue), all on 127.0.0.1. Locust
(bench/locustfile.py) then runs --users people for --seconds: the gallery as a browser with an
empty cache loads it (HTML, then its thumbnails six at a time), scrolling, details pages and now
and then a generation against the simulator. Then the same again with the thumbnails fetched
from nginx (Debian's ``nginx-light``) serving the same files as plain static files: the
baseline. Prints requests/s and p50/p95/p99 per kind for both runs, the app's CPU per request
(gunicorn's processes' CPU time over the run / requests served), and the cold gallery view of
both side by side. It never passes or fails.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fresh_database import fresh_database  # noqa: E402
from bench.servers import free_port, nginx_static, wait_until_up  # noqa: E402

SECRET = "bench-locust-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
API_KEY = "bench-locust-simulator-key"


def _fill(items: int) -> list[str]:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from gallery.accounts.models import User
    from gallery.team.models import Membership
    from gallery.team.services import membership_add, team_create
    from tests.factories import make_item

    owner = User.objects.create_user("owner", password=None)
    team = team_create(name="Load", owner=owner)
    users = [owner]
    for n in range(19):
        user = User.objects.create_user(f"member{n}", password=None)
        membership_add(team=team, user=user, role=Membership.Role.MEMBER)
        users.append(user)
    for n in range(items):
        make_item(
            team,
            users[n % len(users)],
            prompt=f"a lighthouse at dusk number {n}",
            files=True,
            size=(2048, 2048),
            thumbnail_widths=(400, 800),
        )
    keys = []
    for user in users:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        keys.append(store.session_key or "")
    return keys


def _cpu_seconds(root: int) -> float:
    """User + system CPU of a process and its children (gunicorn's master and workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == root or ppid == root:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=5)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--items", type=int, default=600)
    parser.add_argument("--database-url")
    options = parser.parse_args()

    database = fresh_database(options.database_url, prefix="bench-locust-")
    var = Path(tempfile.mkdtemp(prefix="bench-locust-var-"))
    sim_port, web_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("OXEN_API_KEY", "CELERY_QUEUE")},
        "DATABASE_URL": database,
        "SECRET_KEY": SECRET,
        "VAR_DIR": str(var),
        "MEDIA_ROOT": str(var / "media"),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "gallery.settings",
        "OXEN_SIMULATOR": "true",
        "OXEN_BASE_URL": f"http://127.0.0.1:{sim_port}",
        "OXEN_API_KEY": API_KEY,
        "CELERY_QUEUE": f"locust-{os.getpid()}",
    }
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    sessions = _fill(options.items)
    from django.db import connection

    connection.close()
    session_file = var / "sessions.txt"
    session_file.write_text("\n".join(sessions))

    python = sys.executable
    commands = {
        "simulator": [
            python, "-m", "seedream.simulator", "--host", "127.0.0.1", "--port", str(sim_port),
            "--api-key", API_KEY,
        ],
        "web": [
            python, "-m", "gunicorn", "gallery.wsgi", "--bind", f"127.0.0.1:{web_port}",
            "--workers", "2", "--threads", "4", "--graceful-timeout", "2",
        ],
        "worker": [
            python, "-m", "celery", "-A", "gallery", "worker", "--pool", "threads",
            "--concurrency", "4", "--without-mingle", "--without-gossip", "--loglevel", "WARNING",
        ],
    }  # fmt: skip
    processes = {
        name: subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for name, argv in commands.items()
    }
    host = f"http://127.0.0.1:{web_port}"
    static_port = free_port()
    nginx_prefix = Path(tempfile.mkdtemp(prefix="bench-locust-nginx-"))
    nginx = nginx_static(nginx_prefix, static_port, {"/media/s/": var / "media" / "thumbnails"})
    runs: dict[str, Run] = {}
    try:
        wait_until_up(f"{host}/healthz", seconds=30.0)
        wait_until_up(f"http://127.0.0.1:{static_port}/", seconds=30.0)
        for label, thumbs_from in (
            ("app (thumbnails by the app)", ""),
            ("baseline (thumbnails from nginx static)", f"http://127.0.0.1:{static_port}"),
        ):
            runs[label] = _locust(
                host, {**env, "LOCUST_SESSIONS": str(session_file),
                       "LOCUST_THUMBS_FROM": thumbs_from},
                options, var / f"locust-{len(runs)}", processes["web"].pid,
            )  # fmt: skip
    finally:
        nginx.send_signal(signal.SIGQUIT)
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in [*processes.values(), nginx]:
            process.wait(20)

    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"{os.cpu_count()} CPUs, {'PostgreSQL' if database.startswith('postgres') else 'SQLite'}"
        f", {options.items} items, {options.users} users for {options.seconds} s (spawn "
        f"{options.spawn_rate}/s), gunicorn 2x4 + worker + simulator on 127.0.0.1; the same "
        "run again with the thumbnails from nginx serving the same files (the baseline)"
    )
    for label, run in runs.items():
        print(f"\n{label}")
        print(
            f"{'kind':40} {'requests':>8} {'fail':>5} {'req/s':>7} {'p50':>7} {'p95':>7} {'p99':>7}"
        )
        for row in run.rows:
            print(
                f"{row['Name'][:40]:40} {row['Request Count']:>8} {row['Failure Count']:>5} "
                f"{float(row['Requests/s']):7.1f} {row['50%']:>5}ms {row['95%']:>5}ms "
                f"{row['99%']:>5}ms"
            )
        print(
            f"app CPU (gunicorn master + workers): {run.cpu:.1f} s over {run.elapsed:.0f} s for "
            f"{run.served} requests = {1000 * run.cpu / max(1, run.served):.2f} ms per request"
        )
    print("\ncold gallery view (HTML + thumbnails), p50 / p95:")
    for label, run in runs.items():
        view = run.row("cold gallery view (html + thumbnails)")
        print(f"  {label:42} {view['50%']:>6} ms / {view['95%']:>6} ms")
    print("Target (issue 15): cold gallery view with its thumbnails at 20 users p50 <= 1.5 s.")


@dataclass
class Run:
    rows: list[dict[str, str]]
    cpu: float
    elapsed: float
    thumbnails_elsewhere: bool

    @property
    def served(self) -> int:
        """Requests the app answered (the baseline's thumbnails went to nginx)."""
        return sum(
            int(row["Request Count"])
            for row in self.rows
            if row["Type"] not in ("VIEW", "")
            and row["Name"] != "Aggregated"
            and not (self.thumbnails_elsewhere and row["Name"] == "thumbnail")
        )

    def row(self, name: str) -> dict[str, str]:
        return next((r for r in self.rows if r["Name"] == name), {"50%": "n/a", "95%": "n/a"})


def _locust(
    host: str, env: dict[str, str], options: argparse.Namespace, out: Path, web_pid: int
) -> Run:
    """One bounded, headless locust run; the app's CPU over it."""
    before = _cpu_seconds(web_pid)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"),
            "--headless", "-u", str(options.users), "-r", str(options.spawn_rate),
            "-t", f"{options.seconds}s", "--host", host, "--csv", str(out),
            "--only-summary", "--stop-timeout", "10",
        ],
        cwd=ROOT,
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds(web_pid) - before
    rows = list(csv.DictReader((out.parent / f"{out.name}_stats.csv").open()))
    return Run(
        rows=rows, cpu=cpu, elapsed=elapsed, thumbnails_elsewhere=bool(env["LOCUST_THUMBS_FROM"])
    )


if __name__ == "__main__":
    main()
