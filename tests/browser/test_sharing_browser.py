from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage
from gallery.sharing.models import ShareLink
from gallery.team.models import Team
from tests.browser.conftest import ARTIFACTS, log_in, wait_until
from tests.factories import make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def visitor(second_page: Any) -> Any:
    """A second, logged-out browser."""
    second_page.set_viewport_size({"width": 1100, "height": 800})
    return second_page


def test_password_link_opened_logged_out_then_revoked(
    page: Any,
    visitor: Any,
    live_server: Any,
    screenshot: Any,
    team: Team,
    member: User,
    media_storage: Path,
    settings: Any,
) -> None:
    settings.SITE_URL = live_server.url
    image = make_image(team, member, prompt="a blue kite", state=GalleryImage.ReviewState.APPROVED)

    log_in(page, live_server.url, "member", "correct horse battery")
    page.goto(f"{live_server.url}/links/new/?images={image.public_id}")
    page.select_option("#id_expires_in_days", "7")
    page.fill("#id_password", "kite-secret")
    page.fill("#id_note", "For the kite client")
    screenshot("new-link")
    page.click("text=Create link")
    page.wait_for_selector("h1:text('Link created')")
    url = page.input_value("#share-url")
    assert url.startswith(f"{live_server.url}/s/")
    screenshot("created")

    visitor.goto(url)
    assert "needs a password" in visitor.locator("h1").inner_text()
    visitor.fill("#share-password", "wrong-guess")
    visitor.click("text=Open")
    assert "not right" in visitor.locator(".form-error").inner_text()
    visitor.fill("#share-password", "kite-secret")
    visitor.click("text=Open")
    visitor.wait_for_selector(".shared-item img")
    wait_until(visitor, "document.querySelector('.shared-item img').naturalWidth > 0")
    assert "a blue kite" not in visitor.content()  # prompt hidden by default
    shots = ARTIFACTS / "test_password_link_opened_logged_out_then_revoked--visitor"
    shots.parent.mkdir(parents=True, exist_ok=True)
    visitor.screenshot(path=f"{shots}-shared.png", full_page=True)

    with visitor.expect_download() as download_info:
        visitor.click(".shared-item >> text=Download")
    download = download_info.value
    assert download.suggested_filename == f"seedream-{image.public_id}.jpg"
    assert Path(download.path()).read_bytes()[:3] == b"\xff\xd8\xff"
    link = ShareLink.objects.get()
    assert (link.view_count, link.download_count) == (1, 1)
    media_url = visitor.evaluate("document.querySelector('.shared-item img').src")

    page.goto(f"{live_server.url}/links/")
    row = page.locator(".link-row", has_text="For the kite client")
    assert "1" in row.locator(".num").first.inner_text()
    row.locator("button:has-text('Revoke')").click()
    page.wait_for_selector(".link-row.link-revoked")
    screenshot("revoked")

    visitor.reload()
    assert visitor.locator("h1").inner_text() == "This link is no longer available"
    assert visitor.request.get(media_url).status == 410
    visitor.screenshot(path=f"{shots}-gone.png", full_page=True)
