"""Playwright driving Debian's Chromium (never a downloaded browser) against the live server."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from gallery.generation.models import Generation

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
AXE_RESULTS = ARTIFACTS.parent / "axe"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it
# are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def is_csp_violation(text: str) -> bool:
    """Chromium reports a blocked script, style, image or form as a console error naming the
    Content Security Policy ("Refused to execute inline script because it violates the
    following Content Security Policy directive: …")."""
    return "Content Security Policy" in text or "Content-Security-Policy" in text


@pytest.fixture(autouse=True)
def _no_csp_violations(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Every browser context a test opens (its ``page``, a second visitor's, …) reports its
    console here; a test that made the browser refuse anything under the CSP fails."""
    if "browser" not in request.fixturenames:
        yield []
        return
    browser = request.getfixturevalue("browser")
    violations: list[str] = []
    original = browser.new_context

    def new_context(*args: Any, **kwargs: Any) -> Any:
        context = original(*args, **kwargs)
        context.on(
            "console",
            lambda message: (
                violations.append(f"{message.page and message.page.url}: {message.text}")
                if is_csp_violation(message.text)
                else None
            ),
        )
        return context

    browser.new_context = new_context
    try:
        yield violations
    finally:
        browser.new_context = original
    if violations:
        pytest.fail("CSP violations in the console:\n" + "\n".join(violations), pytrace=False)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def second_page(browser: Any) -> Iterator[Any]:
    """Another browser with its own cookies: a teammate, or a visitor without an account."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page: Any, request: pytest.FixtureRequest) -> Any:
    """``screenshot("step")`` saves test-artifacts/screenshots/<test>--<step>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^\w.-]+", "_", request.node.name)

    def take(step: str) -> Path:
        path = ARTIFACTS / f"{test_name}--{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def wait_until(page: Any, expression: str, *, timeout: float = 15_000) -> None:
    """Wait until ``expression`` is true in the page. Use this, not Playwright's
    ``wait_for_function``: that one evaluates its string with ``eval`` inside the page, which
    the app's CSP (no 'unsafe-eval') rightly refuses; ``page.evaluate`` runs outside the
    page's policy."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout / 1000:.0f} s: {expression}")
        page.wait_for_timeout(100)


def log_in(page: Any, live_server_url: str, username: str, password: str) -> None:
    page.goto(f"{live_server_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")


@pytest.fixture
def db_lock(live_server: Any) -> Iterator[threading.Lock | contextlib.nullcontext[None]]:
    """With in-memory SQLite the live server's threads share one connection, which is not
    safe to use concurrently (Chromium loads thumbnails in parallel). Serialize requests, and
    the pipeline worker, on one lock; with PostgreSQL nothing is serialized."""
    if connection.vendor != "sqlite":
        yield contextlib.nullcontext()
        return
    lock = threading.Lock()
    httpd = live_server.thread.httpd
    app = httpd.get_app()

    def serialized(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with lock:
            response = app(environ, start_response)
            try:
                return list(response)
            finally:
                close = getattr(response, "close", None)
                if close:
                    close()

    httpd.set_app(serialized)
    yield lock
    httpd.set_app(app)


@pytest.fixture
def pipeline_worker(settings: Any, oxen_sim: Any, db_lock: Any) -> Iterator[None]:
    """What the worker and beat do, in a background thread: submit, poll, ingest, every 0.2 s.
    Submissions are also run eagerly on commit, as a worker would pick them up at once."""
    from gallery.celery import app
    from gallery.generation import ingest, submit, track

    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    stop = threading.Event()
    failures: list[BaseException] = []

    def loop() -> None:
        from django.db import connection

        def step() -> None:
            Generation.objects.filter(status__in=["queued", "processing"]).update(
                next_check_at=timezone.now()
            )
            for pk in Generation.objects.filter(status="pending").values_list("pk", flat=True):
                submit.generation_submit(generation_id=pk)
            result = track.generations_sweep()
            for pk in result.orphans:
                submit.generation_find_orphan(generation_id=pk)
            for pk in result.ingest:
                ingest.generation_ingest(generation_id=pk)

        try:
            while not stop.is_set():
                # In-memory SQLite shared between threads locks whole tables; a real
                # worker's task would be retried, and so is this step.
                with db_lock, contextlib.suppress(OperationalError):
                    step()
                stop.wait(0.2)
        except BaseException as exc:  # surfaced at teardown
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, name="pipeline-worker", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)
    app.conf.task_always_eager = False
    assert not failures, failures


# -- accessibility -------------------------------------------------------------------------------

BLOCKING_IMPACTS = ("serious", "critical")


def axe_violations(page: Any, name: str) -> list[dict[str, Any]]:
    """Run axe-core (bundled in axe-playwright-python) on the page as it is now; keep the full
    result in test-artifacts/axe/<name>.json and return the serious and critical violations."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    AXE_RESULTS.mkdir(parents=True, exist_ok=True)
    summary = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:10],
        }
        for v in violations
    ]
    (AXE_RESULTS / f"{name}.json").write_text(
        json.dumps({"url": page.url, "violations": summary}, indent=2)
    )
    return [v for v in summary if v["impact"] in BLOCKING_IMPACTS]


def tab_to(page: Any, selector: str, *, limit: int = 120, back: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the focused element matches ``selector``."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate(
            "(s) => document.activeElement && document.activeElement.matches(s)", selector
        ):
            return
    raise AssertionError(f"{selector} never took the focus after {limit} presses of {key}")
