"""Every HTML page carries a Content-Security-Policy with a nonce and no 'unsafe-inline' for
scripts, and nothing on the page needs one (issue 13, item 9): every page the app links to is
walked, as a member and as a visitor, and checked."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from gallery.media.views import MEDIA_CSP
from gallery.sharing.views import PAGE_CSP
from tests.crawl import Page, crawl
from tests.gallery.conftest import SiteData

pytestmark = pytest.mark.django_db


def directives(policy: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found


class _Scripts(HTMLParser):
    """Inline scripts (with their nonce), inline event handlers and javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_script_nonces: list[str | None] = []
        self.handlers: list[str] = []
        self.javascript_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and "src" not in a and a.get("type", "") != "application/json":
            self.inline_script_nonces.append(a.get("nonce"))
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}=…>")
            if name.startswith("hx-on"):
                self.handlers.append(f"<{tag} {name}=…> (htmx runs it with eval)")
            if value and value.strip().lower().startswith("javascript:"):
                self.javascript_urls.append(f"<{tag} {name}={value[:40]}>")


def check_page(page: Page) -> list[str]:
    problems = []
    policy = directives(page.csp)
    scripts = _Scripts()
    scripts.feed(page.html)
    where = page.url
    if not page.csp:
        return [f"{where}: no Content-Security-Policy"]
    if page.csp == PAGE_CSP:  # a shared link's public page: no script at all
        if scripts.inline_script_nonces or "script-src" in policy:
            problems.append(f"{where}: the public page's CSP must allow no script")
    else:
        script_src = policy.get("script-src") or policy.get("default-src", [])
        nonces = [v[len("'nonce-") : -1] for v in script_src if v.startswith("'nonce-")]
        # Django adds the nonce when the page used it: every page on base.html does.
        if scripts.inline_script_nonces and len(nonces) != 1:
            problems.append(f"{where}: script-src has no nonce: {script_src}")
        if "'unsafe-inline'" in script_src or "'unsafe-eval'" in script_src:
            problems.append(f"{where}: script-src allows inline or eval: {script_src}")
        for nonce in scripts.inline_script_nonces:
            if nonce not in nonces:
                problems.append(f"{where}: an inline <script> without the response's nonce")
    problems += [f"{where}: inline handler {h}" for h in scripts.handlers]
    problems += [f"{where}: {u}" for u in scripts.javascript_urls]
    for directive in ("object-src", "base-uri", "frame-ancestors"):
        if directive not in policy and "'none'" not in policy.get("default-src", []):
            problems.append(f"{where}: no {directive}")
    return problems


def test_every_page_has_a_nonce_csp_and_no_inline_script(site_data: SiteData) -> None:
    member = crawl(site_data.owner_client().get, site_data.start_urls())
    visitor = crawl(Client().get, site_data.public_urls())
    pages = [p for p in member.pages + visitor.pages if "html" in p.content_type and p.html]
    assert len(pages) >= 20, [p.url for p in pages]
    app_pages = [p for p in pages if p.csp != PAGE_CSP and 'class="topbar"' in p.html]
    assert app_pages and all("'nonce-" in p.csp for p in app_pages)
    problems = [problem for page in pages for problem in check_page(page)]
    assert problems == []
    # Two responses on one page never share a nonce.
    nonces = {re.search(r"'nonce-([^']+)'", p.csp).group(1) for p in pages if "nonce-" in p.csp}  # type: ignore[union-attr]
    assert len(nonces) == len([p for p in pages if "nonce-" in p.csp])
    # The stricter policies of the public pages and media are kept, not replaced.
    assert any(p.csp == PAGE_CSP for p in visitor.pages)


def test_error_pages_and_media_keep_a_csp(site_data: SiteData, settings: Any) -> None:
    client = site_data.owner_client()
    missing = client.get("/items/00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404
    assert "script-src 'self'" in missing["Content-Security-Policy"]
    image = site_data.images[0]
    media = client.get(f"/media/i/{image.public_id}/original/")
    assert media["Content-Security-Policy"] == MEDIA_CSP
    shared = Client().get(f"/s/{site_data.share_token}/i/{image.public_id}/preview/")
    assert shared["Content-Security-Policy"] == MEDIA_CSP


def test_the_500_page_runs_its_script_under_the_csp() -> None:
    """The 500 page is rendered without the request's context (issue 10: it must not need the
    database), yet its inline script needs the response's nonce."""
    from django.middleware.csp import ContentSecurityPolicyMiddleware
    from django.test import RequestFactory

    from gallery import pages

    response = ContentSecurityPolicyMiddleware(pages.server_error)(
        RequestFactory().get("/somewhere/")
    )
    html = response.content.decode()
    assert response.status_code == 500 and "<script nonce=" in html
    page = Page(
        "/somewhere/", 500, response["Content-Type"], html, response["Content-Security-Policy"]
    )
    assert check_page(page) == []


def test_htmx_has_one_config_safe_under_the_csp_that_swaps_form_errors(
    member_client: Client,
) -> None:
    """Issue 13's settings (no eval, no injected styles, no scripts from swapped HTML) and
    issue 10's response handling (a 422 form with its errors is swapped; a live poll's 304 is
    not) in the one config htmx reads."""
    html = member_client.get("/").content.decode()
    tags = re.findall(r"<meta name=\"htmx-config\" content='([^']+)'>", html)
    assert len(tags) == 1
    config = json.loads(tags[0])
    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False
    assert config["allowScriptTags"] is False
    handling = {rule["code"]: rule["swap"] for rule in config["responseHandling"]}
    assert handling["422"] is True and handling["304"] is False
