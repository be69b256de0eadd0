"""Quick start command 1 (bin/run) on an empty state directory: it serves a login page, the
printed admin login works, and Ctrl-C stops every process it started."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("run-command")]


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


def test_run_command_serves_the_app_and_stops_cleanly(tmp_path: Path) -> None:
    web_port, sim_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OXEN_", "DJANGO_", "PYTEST_", "DATABASE_", "REDIS_", "SECRET_KEY"))
    }
    env.update(VAR_DIR=str(tmp_path), WEB_PORT=str(web_port), SIMULATOR_PORT=str(sim_port))
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
        output = log.read_text()
        assert page is not None and page.status_code == 200, output[-3000:]
        assert "LOCAL OXEN SIMULATOR" in output
        assert "Local Oxen simulator" in page.text

        password = re.search(r"password: (\S+)", output)
        assert password, output[-3000:]
        with httpx.Client(base_url=base, timeout=10) as browser:
            login = browser.get("/accounts/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
            assert token
            response = browser.post(
                "/accounts/login/",
                data={
                    "username": "admin",
                    "password": password.group(1),
                    "csrfmiddlewaretoken": token.group(1),
                },
                headers={"Referer": f"{base}/accounts/login/"},
            )
            assert response.status_code == 302 and response.headers["location"] == "/"
            assert "My team" in browser.get("/").text
        health = httpx.get(f"{base}/healthz", timeout=5)
        assert health.status_code == 200, health.text
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
