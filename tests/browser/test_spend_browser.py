"""The spend dashboard in a real browser (issue 11): the SVG chart of spend per day and the
cost per approved image are on screen for seeded data; members see their own; screenshots."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gallery.accounts.models import User
from gallery.budget.models import Reservation, TeamBudget
from gallery.team.models import Team
from tests.browser.conftest import axe_violations, log_in
from tests.factories import make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery"


def test_the_dashboard_shows_the_chart_and_the_cost_per_approved_image(
    page: Any,
    live_server: Any,
    screenshot: Any,
    team: Team,
    member: User,
    media_storage: Path,
    tmp_path: Path,
) -> None:
    TeamBudget.objects.create(team=team, monthly_limit=Decimal("1.00"))
    for state, size in (("approved", "2K"), ("approved", "4K"), ("rejected", "2K")):
        image = make_image(team, member, state=state, size=size)
        Reservation.objects.create(  # what the budget check wrote when it was generated
            team=team,
            member=member,
            generation=image.generation,
            estimate=Decimal("0.04"),
            amount=Decimal("0.04"),
            state=Reservation.State.CHARGED,
            billed=True,
            created_at=image.generation.created_at,
        )

    log_in(page, live_server.url, "owner", PASSWORD)
    page.click("nav >> text=Spend")
    page.wait_for_selector("svg[data-spend-chart]")
    assert page.locator("svg[data-spend-chart]").is_visible()
    bars = page.locator("svg[data-spend-chart] rect.bar")
    assert bars.count() >= 28  # one per day of the month
    tallest = max(float(bars.nth(i).get_attribute("height") or 0) for i in range(bars.count()))
    assert tallest > 0  # today's spend is drawn
    figure = page.locator("[data-cost-per-approved]")
    assert figure.is_visible() and figure.inner_text() == "$0.06"  # $0.12 over 2 approved
    assert page.locator("[data-spend-total]").inner_text() == "$0.12"
    assert page.locator("progress").first.is_visible()  # the budget's progress bar
    assert "$0.12 of $1.00 · $0.88 left" in page.inner_text(".budget-bar")
    saved = tmp_path / "spend-dashboard.png"
    page.screenshot(path=str(saved), full_page=True)
    assert saved.stat().st_size > 10_000
    screenshot("dashboard")
    serious = axe_violations(page, "spend-dashboard")
    assert serious == [], serious

    # A member sees only their own; the owner's export is there too.
    page.context.clear_cookies()
    log_in(page, live_server.url, "member", PASSWORD)
    page.goto(f"{live_server.url}/spend/")
    assert "your images" in page.inner_text(".gallery-head")
    assert page.locator("[data-cost-per-approved]").inner_text() == "$0.06"
    screenshot("dashboard-member")
