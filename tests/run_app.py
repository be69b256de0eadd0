"""Run the app as a person runs it (``bin/run`` on an empty state directory) for a test:
wait for the login page, sign in with the printed admin login, and stop every process on the
way out as Ctrl-C does."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def processes_in_session(sid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) == sid:
                found.append(int(entry.name))
        except (ProcessLookupError, PermissionError):
            continue
    return found


@dataclass
class RunningApp:
    proc: subprocess.Popen[bytes]
    base: str
    log: Path
    first_page: httpx.Response

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def admin_password(self) -> str:
        found = re.search(r"password: (\S+)", self.output())
        assert found, self.output()[-3000:]
        return found.group(1)

    def environment_values(self, name: str) -> set[str]:
        """The values of ``name`` in the environment of the processes ``bin/run`` started (how
        it hands them secrets it made, such as the simulator's key)."""
        values = set()
        for pid in processes_in_session(self.proc.pid):
            with contextlib.suppress(OSError):
                for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    key, _, value = entry.decode(errors="replace").partition("=")
                    if key == name and value:
                        values.add(value)
        return values

    def login(self, client: httpx.Client, username: str, password: str) -> httpx.Response:
        page = client.get("/accounts/login/")
        token = csrf_token(page.text)
        return client.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{self.base}/accounts/login/"},
        )


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


@contextlib.contextmanager
def running_app(tmp_path: Path, **extra_env: str) -> Iterator[RunningApp]:
    """``bin/run`` with a fresh ``VAR_DIR`` and free ports, none of the test run's own
    settings (database, Redis, Oxen), and ``extra_env`` on top; yields once the login page
    answers, then stops it with SIGINT and waits until every process it started is gone."""
    web_port, sim_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OXEN_", "DJANGO_", "PYTEST_", "DATABASE_", "REDIS_", "SECRET_KEY"))
    }
    env.update(VAR_DIR=str(tmp_path), WEB_PORT=str(web_port), SIMULATOR_PORT=str(sim_port))
    env.update(extra_env)
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bin/run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{web_port}"
    try:
        deadline = time.monotonic() + 240
        page = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = httpx.get(f"{base}/accounts/login/", timeout=2)
                if page.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert page is not None and page.status_code == 200, log.read_text()[-3000:]
        yield RunningApp(proc=proc, base=base, log=log, first_page=page)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    deadline = time.monotonic() + 15
    while processes_in_session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert processes_in_session(proc.pid) == [], log.read_text()[-2000:]
