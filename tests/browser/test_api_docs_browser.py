"""The API's interactive docs (``/api/v1/docs``) in a real browser: Swagger UI from the app's
own static files (no request leaves the site), every operation listed, and nothing refused
under the app's CSP (the console check in conftest)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from gallery.accounts.models import User
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_load_locally_under_the_csp(
    page: Any, live_server: Any, screenshot: Any, member: User
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    log_in(page, live_server.url, "member", "correct horse battery")
    response = page.goto(f"{live_server.url}/api/v1/docs")
    assert response.status == 200
    assert "content-security-policy" in response.headers
    page.wait_for_selector(".opblock", timeout=20_000)
    operations = page.locator(".opblock").count()
    assert operations >= 18
    assert page.get_by_text("/api/v1/generations", exact=True).first.is_visible()
    screenshot("api-docs")
    site = urlsplit(live_server.url).netloc
    elsewhere = [url for url in requested if urlsplit(url).netloc not in (site, "")]
    assert elsewhere == [], elsewhere
    assert any("/static/ninja/swagger-ui-bundle" in url for url in requested)
