"""The app's own CSP in a real browser on pages no other browser test opens: the Django admin
(its inlines, autocomplete and date widgets), a login lockout and a password-protected link.
The console check in conftest fails the test on any CSP violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gallery.accounts.models import User
from gallery.team.models import Team
from tests.browser.conftest import log_in
from tests.factories import make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_pages_and_a_lockout_run_under_the_csp(
    page: Any,
    live_server: Any,
    screenshot: Any,
    team: Team,
    member: User,
    make_user: Any,
    media_storage: Path,
    settings: Any,
) -> None:
    make_user("root", is_staff=True, is_superuser=True)
    image = make_image(team, member, prompt="an admin's view")
    log_in(page, live_server.url, "root", "correct horse battery")
    for path in [
        "/admin/",
        "/admin/gallery/galleryimage/",
        f"/admin/gallery/galleryimage/{image.pk}/change/",
        f"/admin/gallery/team/{team.pk}/change/",
        "/admin/gallery/membership/add/",
        "/admin/gallery/generation/?status__exact=succeeded",
        "/admin/axes/accessattempt/",
    ]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "'nonce-" in response.headers["content-security-policy"]
    # The autocomplete widget opens (select2, jQuery) without tripping the policy.
    page.goto(f"{live_server.url}/admin/gallery/membership/add/")
    screenshot("admin-membership-add")
    page.click(".field-user .select2-selection")
    page.wait_for_selector(".select2-results__option")
    screenshot("admin-autocomplete")

    settings.AXES_FAILURE_LIMIT = 2
    visitor = page.context.browser.new_context().new_page()
    for _ in range(2):
        visitor.goto(f"{live_server.url}/accounts/login/")
        visitor.fill("#id_username", "member")
        visitor.fill("#id_password", "wrong")
        visitor.click("button[type=submit]")
    assert "Too many failed logins" in visitor.locator("h1").inner_text()
    visitor.context.close()
