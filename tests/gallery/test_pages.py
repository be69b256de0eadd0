"""Styled error pages in the app's shell (and the shared-link shell under /s/), the favicon and
the web-app manifest, and the small page fixes of issue 10 ("Seen" 8)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse

from gallery import pages
from gallery.accounts.models import User
from gallery.generation.models import GalleryImage
from gallery.review import services as review_services
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add
from tests.conftest import png_bytes
from tests.factories import make_image, make_item

pytestmark = pytest.mark.django_db
SHELL = 'class="topbar"'


@pytest.fixture(autouse=True)
def _no_debug(settings: Any) -> None:
    settings.DEBUG = False


def test_an_unknown_item_is_a_styled_404_in_the_app_shell(member_client: Client) -> None:
    response = member_client.get("/items/00000000-0000-0000-0000-000000000000/")
    html = response.content.decode()
    assert response.status_code == 404
    assert SHELL in html and ">Gallery</a>" in html  # header and navigation
    assert "No such item." in html and 'href="/"' in html and "Go to the gallery" in html


def test_a_viewer_opening_generate_is_told_why_in_the_app_shell(
    team: Team, make_user: Callable[..., User]
) -> None:
    viewer = make_user("viewer")
    membership_add(team=team, user=viewer, role=Membership.Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    response = client.get("/generate/")
    assert response.status_code == 404
    assert "Viewers cannot generate images." in response.content.decode()
    assert SHELL in response.content.decode()


def test_a_missing_route_shows_no_resolver_internals(member_client: Client) -> None:
    html = member_client.get("/no/such/page/").content.decode()
    assert "There is nothing at this address" in html and "pattern" not in html.lower()


def test_under_a_shared_link_errors_use_the_shared_shell(member_client: Client) -> None:
    response = Client().get("/s/not-a-token/")
    html = response.content.decode()
    assert response.status_code == 404 and 'class="public"' in html
    assert "Check that the whole link was copied" in html
    assert ">Gallery</a>" not in html and response["Cache-Control"] == "no-store"


def test_too_many_files_is_a_styled_400_saying_what_to_do(member_client: Client) -> None:
    files = [
        SimpleUploadedFile(f"r{i}.png", png_bytes((8, 8)), "image/png")
        for i in range(django_settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)
    ]
    response = member_client.post("/generate/", {"prompt": "x", "uploads": files})
    html = response.content.decode()
    assert response.status_code == 400 and SHELL in html
    assert "more files than one upload may carry (at most 20)" in html
    assert "at most 14 reference images" in html


def test_a_csrf_failure_is_a_styled_403(member: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(reverse("logout"))
    assert response.status_code == 403
    assert "That form had expired" in response.content.decode()
    assert SHELL in response.content.decode()


def test_the_403_and_500_pages_are_styled_and_the_500_needs_no_database(
    django_assert_num_queries: Any,
) -> None:
    request = RequestFactory().get("/somewhere/")
    assert "Not allowed" in pages.permission_denied(request).content.decode()
    with django_assert_num_queries(0):
        response = pages.server_error(request)
    html = response.content.decode()
    assert response.status_code == 500 and SHELL in html and "Something went wrong" in html


def test_favicon_and_manifest(client: Client) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 302 and icon["Location"].endswith("icons/favicon.ico")
    html = client.get(reverse("login")).content.decode()
    assert re.search(r'<link rel="icon" href="[^"]+favicon\.svg"', html)
    assert re.search(r'<link rel="manifest" href="[^"]+manifest\.webmanifest"', html)
    root = Path(django_settings.BASE_DIR) / "static"
    manifest = json.loads((root / "manifest.webmanifest").read_text())
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    for icon_entry in manifest["icons"]:
        assert (root / icon_entry["src"]).is_file()
    assert (root / "icons" / "favicon.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"


# -- "Seen" 8: the small things --------------------------------------------------------------


def test_the_team_page_has_no_duplicate_ids(team: Team) -> None:
    owner = Client()
    owner.force_login(team.memberships.get(role="owner").user)
    html = owner.get("/team/").content.decode()
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert "invite_role" in ids and "member_role" in ids
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_the_detail_page_has_one_size_row_and_the_file_row(
    member_client: Client, team: Team, member: User, media_storage: Path
) -> None:
    item = make_item(team, member, files=True, parameters={"size": "2K", "watermark": False})
    html = member_client.get(f"/items/{item.public_id}/").content.decode()
    labels = re.findall(r"<dt>([^<]+)</dt>", html)
    assert labels.count("Size") == 1 and "File" in labels
    assert "<dt>Watermark</dt><dd>No</dd>" in html


def test_the_review_panel_says_no_not_false(
    team: Team, member: User, make_user: Callable[..., User], media_storage: Path
) -> None:
    reviewer = make_user("reviewer", is_staff=True)
    membership_add(team=team, user=reviewer, role=Membership.Role.MEMBER)
    image = make_image(team, member, state=GalleryImage.ReviewState.PENDING)
    image.generation.request.parameters = {"size": "2K", "watermark": False}
    image.generation.request.save()
    client = Client()
    client.force_login(reviewer)
    html = client.get(reverse("review-image", args=[image.public_id])).content.decode()
    assert "<dt>watermark</dt><dd>No</dd>" in html and "False" not in html


def test_the_detail_page_shows_the_review_history_and_a_flag_form(
    member_client: Client,
    team: Team,
    member: User,
    make_user: Callable[..., User],
    media_storage: Path,
) -> None:
    reviewer = make_user("reviewer", is_staff=True, first_name="Rita")
    membership_add(team=team, user=reviewer, role=Membership.Role.MEMBER)
    image = make_image(team, member, state=GalleryImage.ReviewState.PENDING)
    review_services.image_review(
        image=image, reviewer=reviewer, to_state="approved", note="Colours are on brand."
    )
    html = member_client.get(f"/items/{image.generation.public_id}/").content.decode()
    history = html.split('id="review-history-')[1]
    assert "pending review → <strong>approved</strong>" in history
    assert "Colours are on brand." in history and "<time datetime=" in history
    assert 'name="reason"' in history and ">Flag</button>" in history
    response = member_client.post(
        reverse("image-flag", args=[image.public_id]),
        {"reason": "The logo is mirrored."},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "flagged it" in response.content.decode()
    assert "The logo is mirrored." in response.content.decode()


def test_flags_are_rate_limited_per_member(
    member_client: Client, team: Team, member: User, media_storage: Path
) -> None:
    images = [make_image(team, member, state="approved") for _ in range(11)]
    statuses = [
        member_client.post(
            reverse("image-flag", args=[image.public_id]),
            {"reason": "wrong colours"},
            HTTP_HX_REQUEST="true",
        )
        for image in images
    ]
    assert [r.status_code for r in statuses[:10]] == [200] * 10
    assert statuses[10].status_code == 422
    assert "flagged 10 images in the last hour" in statuses[10].content.decode()
    images[10].refresh_from_db()
    assert images[10].review_state == "approved"  # the refused flag changed nothing
