from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage
from gallery.review.models import ReviewDecision
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add
from tests.browser.conftest import log_in, wait_until
from tests.factories import make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reviewer_approves_and_rejects_from_the_queue_with_the_keyboard(
    page: Any,
    live_server: Any,
    screenshot: Any,
    team: Team,
    member: User,
    make_user: Any,
    media_storage: Path,
) -> None:
    reviewer = make_user("reviewer", is_staff=True)
    membership_add(team=team, user=reviewer, role=Membership.Role.MEMBER)
    now = timezone.now()
    first, second, third = (
        make_image(
            team,
            member,
            prompt=f"prompt {n}",
            colour=(40 * n, 90, 160),
            created_at=now - timedelta(hours=3 - n),
        )
        for n in range(3)
    )

    log_in(page, live_server.url, "reviewer", "correct horse battery")
    page.click("nav >> text=Review")
    page.wait_for_url(f"**/review/{first.public_id}/")
    assert page.locator(".remaining strong").inner_text() == "3"
    assert "prompt 0" in page.locator(".prompt").inner_text()
    wait_until(page, "document.querySelector('.review-image img').naturalWidth > 0")
    screenshot("queue")

    # J and K move through the queue without deciding anything.
    page.keyboard.press("j")
    page.wait_for_url(f"**/review/{second.public_id}/")
    page.keyboard.press("k")
    page.wait_for_url(f"**/review/{first.public_id}/")

    page.keyboard.press("a")
    page.wait_for_url(f"**/review/{second.public_id}/")
    assert page.locator(".remaining strong").inner_text() == "2"

    page.keyboard.press("n")
    assert page.evaluate("document.activeElement.id") == "review-note"
    page.keyboard.type("the horizon is tilted")  # typing "r" here must not reject
    page.keyboard.press("Escape")
    screenshot("note")
    page.keyboard.press("r")
    page.wait_for_url(f"**/review/{third.public_id}/")
    assert page.locator(".remaining strong").inner_text() == "1"
    screenshot("after-reject")

    states = dict(GalleryImage.objects.values_list("pk", "review_state"))
    assert [states[i.pk] for i in (first, second, third)] == ["approved", "rejected", "pending"]
    rejected = ReviewDecision.objects.get(image=second)
    assert (rejected.actor, rejected.note) == (reviewer, "the horizon is tilted")

    page.keyboard.press("a")
    page.wait_for_url(f"{live_server.url}/review/")
    assert "Nothing left to review" in page.locator("main").inner_text()
