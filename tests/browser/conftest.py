"""Playwright driving Debian's Chromium (never a downloaded browser) against the live server."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
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
