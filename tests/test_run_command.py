"""Quick start command 1 (bin/run) on an empty state directory: it serves a login page, the
printed admin login works, and Ctrl-C stops every process it started."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.run_app import running_app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("run-command")]


def test_run_command_serves_the_app_and_stops_cleanly(tmp_path: Path) -> None:
    with running_app(tmp_path) as app:
        output = app.output()
        assert "LOCAL OXEN SIMULATOR" in output
        assert "Local Oxen simulator" in app.first_page.text

        with httpx.Client(base_url=app.base, timeout=10) as browser:
            response = app.login(browser, "admin", app.admin_password())
            assert response.status_code == 302 and response.headers["location"] == "/"
            assert "My team" in browser.get("/").text
        health = httpx.get(f"{app.base}/healthz", timeout=5)
        assert health.status_code == 200, health.text
