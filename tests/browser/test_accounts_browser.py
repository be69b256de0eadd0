from __future__ import annotations

from typing import Any

import pytest

from gallery.accounts.models import User
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_log_in_switch_team_and_log_out(
    page: Any, live_server: Any, screenshot: Any, member: User, make_user: Any
) -> None:
    from gallery.team.models import Membership
    from gallery.team.services import membership_add, team_create

    membership_add(
        team=team_create(name="Marketing", owner=make_user("boss")),
        user=member,
        role=Membership.Role.MEMBER,
    )
    page.goto(f"{live_server.url}/accounts/login/")
    screenshot("login")
    page.fill("#id_username", "member")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".form-error").inner_text().startswith("Please enter a correct username")

    log_in(page, live_server.url, "member", "correct horse battery")
    assert page.locator("h1").inner_text() == "Design"
    page.select_option("#team-select", label="Marketing")
    page.wait_for_selector("h1:text('Marketing')")
    screenshot("team-switched")

    page.click(".menu summary")
    page.click("text=Log out")
    page.wait_for_url(f"{live_server.url}/accounts/login/")
