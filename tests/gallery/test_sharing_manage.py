"""Shared links after they are made: the address shown again (derived, never stored), its QR
code, editing expiry/password/toggles, and sharing from the selection bar, the detail page,
compare and the review queue through the share dialog."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage
from gallery.review import services as review_services
from gallery.sharing import access as sharing_access
from gallery.sharing import services as sharing_services
from gallery.sharing.models import ShareLink
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add, team_create
from gallery.tokens import token_hash
from tests.factories import make_image, make_item

pytestmark = pytest.mark.django_db
State = GalleryImage.ReviewState
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def image(team: Team, member: User, media_storage: Path) -> GalleryImage:
    return make_image(team, member, prompt="a kite over the dunes", state=State.APPROVED)


@pytest.fixture
def membership(team: Team, member: User) -> Membership:
    return Membership.objects.select_related("team", "user").get(team=team, user=member)


def create(membership: Membership, images: list[GalleryImage], **options: Any) -> Any:
    options.setdefault("expires_in_days", 7)
    return sharing_services.share_link_create(membership=membership, images=images, **options)


# -- the address, again --------------------------------------------------------------------------


def test_the_address_is_derived_again_from_the_stored_nonce_and_the_key(
    membership: Membership, image: GalleryImage
) -> None:
    created = create(membership, [image])
    link = ShareLink.objects.get()
    assert link.token_nonce and link.token_hash == token_hash(created.token)
    assert sharing_services.share_link_address(link) == created.url
    assert sharing_access.link_resolve(created.token).pk == link.pk


def test_the_database_alone_reveals_no_address(
    membership: Membership, image: GalleryImage, settings: Any
) -> None:
    created = create(membership, [image])
    stored = " ".join(str(value) for value in ShareLink.objects.values().get().values())
    assert created.token not in stored
    # Someone with the rows (nonce and hash) but another key derives a different token, which
    # opens nothing; only the server's key gives the address back.
    settings.SECRET_KEY = "a-different-key-that-an-attacker-might-guess-0123456789"
    link = ShareLink.objects.get()
    assert sharing_services.share_link_address(link) is None
    from gallery.tokens import token_derive

    guessed = token_derive(link.token_nonce, purpose=sharing_services.TOKEN_PURPOSE)
    assert guessed != created.token
    assert Client().get(f"/s/{guessed}/").status_code == 404


def test_a_rotated_key_kept_in_the_fallbacks_still_shows_the_address(
    membership: Membership, image: GalleryImage, settings: Any
) -> None:
    created = create(membership, [image])
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-new-secret-key-after-rotation-0123456789abcdef"
    link = ShareLink.objects.get()
    assert sharing_services.share_link_address(link) == created.url
    assert Client().get(f"/s/{created.token}/").status_code == 200


def test_links_made_before_nonces_still_open_but_say_their_address_cannot_be_shown(
    membership: Membership, image: GalleryImage, member_client: Client
) -> None:
    created = create(membership, [image])
    ShareLink.objects.update(token_nonce="")  # what migration 0005 leaves on older links
    link = ShareLink.objects.get()
    assert sharing_services.share_link_address(link) is None
    assert Client().get(f"/s/{created.token}/").status_code == 200  # still works
    html = member_client.get(reverse("share-link", args=[link.public_id])).content.decode()
    assert "made before addresses could be shown again" in html
    assert created.token not in html and "<svg" not in html


def test_the_link_panel_shows_the_address_a_qr_code_and_its_use(
    membership: Membership, image: GalleryImage, member_client: Client
) -> None:
    created = create(membership, [image], note="For the agency")
    sharing_services.link_count_view(created.link)
    response = member_client.get(reverse("share-link", args=[created.link.public_id]))
    html = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert f'value="{created.url}"' in html
    assert re.search(r'<svg [^>]*class="qr-code"', html)
    assert "data-view-count>1<" in html and "data-download-count>0<" in html
    # For the share dialog, htmx gets only the panel.
    fragment = member_client.get(reverse("share-link", args=[created.link.public_id]), **HTMX)
    assert "<html" not in fragment.content.decode() and created.url in fragment.content.decode()
    # The list itself never carries an address.
    assert created.token not in member_client.get(reverse("share-links")).content.decode()


def test_viewers_and_other_teams_never_see_a_links_address(
    membership: Membership,
    image: GalleryImage,
    team: Team,
    make_user: Callable[..., User],
) -> None:
    created = create(membership, [image])
    viewer = make_user("viewer")
    membership_add(team=team, user=viewer, role=Membership.Role.VIEWER)
    outsider = make_user("outsider")
    team_create(name="Elsewhere", owner=outsider)
    for user in (viewer, outsider):
        client = Client()
        client.force_login(user)
        for name in ("share-link", "share-link-edit", "share-link-revoke"):
            url = reverse(name, args=[created.link.public_id])
            response = client.get(url) if name == "share-link" else client.post(url)
            assert response.status_code == 404, (user.username, name)
            assert created.token not in response.content.decode()


# -- editing -------------------------------------------------------------------------------------


def test_editing_changes_expiry_password_and_toggles_but_not_the_address(
    membership: Membership, image: GalleryImage, member_client: Client
) -> None:
    created = create(membership, [image], allow_download=True, show_metadata=False)
    url = reverse("share-link-edit", args=[created.link.public_id])
    response = member_client.post(
        url,
        {
            "expires_in_days": "1",
            "password": "kite-secret",
            "show_metadata": "on",
            "note": "For the kite client",
        },
    )
    assert response.status_code == 302
    link = ShareLink.objects.get()
    assert timedelta(hours=23) < link.expires_at - timezone.now() <= timedelta(days=1)
    assert check_password("kite-secret", link.password_hash)
    assert (link.allow_download, link.show_metadata) == (False, True)
    assert link.note == "For the kite client"
    assert sharing_services.share_link_address(link) == created.url  # the same address

    # "keep" leaves the expiry alone; an empty password keeps it; "remove" removes it.
    expires = link.expires_at
    member_client.post(url, {"expires_in_days": "keep", "allow_download": "on"})
    link.refresh_from_db()
    assert link.expires_at == expires and link.password_hash and link.allow_download
    member_client.post(url, {"expires_in_days": "keep", "remove_password": "on"})
    link.refresh_from_db()
    assert link.password_hash == "" and link.expires_at == expires


def test_editing_keeps_to_the_team_rules_and_a_revoked_link_stays_revoked(
    membership: Membership, image: GalleryImage, member_client: Client
) -> None:
    created = create(membership, [image])
    url = reverse("share-link-edit", args=[created.link.public_id])
    too_long = member_client.post(url, {"expires_in_days": "365"}, **HTMX)
    assert too_long.status_code == 422 and "at most 90 days" in too_long.content.decode()
    short = member_client.post(url, {"expires_in_days": "keep", "password": "abc"}, **HTMX)
    assert short.status_code == 422 and "at least 6 characters" in short.content.decode()
    sharing_services.share_link_revoke(link=created.link, membership=membership)
    with pytest.raises(sharing_services.ShareError, match="revoked"):
        sharing_services.share_link_update(link=created.link, actor=membership, note="again")
    with pytest.raises(TypeError):
        sharing_services.share_link_update(link=created.link, actor=membership, token="x")


def test_an_htmx_edit_answers_with_the_panel_saying_it_saved(
    membership: Membership, image: GalleryImage, member_client: Client
) -> None:
    created = create(membership, [image])
    response = member_client.post(
        reverse("share-link-edit", args=[created.link.public_id]),
        {"expires_in_days": "30", "allow_download": "on"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Saved. The address stays the same." in html and created.url in html


# -- sharing from anywhere -----------------------------------------------------------------------


def test_the_selection_bar_shares_gallery_items_in_the_dialog(
    membership: Membership, member: User, team: Team, member_client: Client, media_storage: Path
) -> None:
    items = [make_item(team, member, prompt=f"tile {i}", files=True) for i in range(3)]
    ids = [str(item.public_id) for item in items]
    dialog = member_client.post(reverse("share-link-new"), {"ids": ids}, **HTMX)
    html = dialog.content.decode()
    assert dialog.status_code == 200 and "<html" not in html
    assert "Share 3 images" in html and html.count('name="images"') == 3
    assert '<option value="30" selected>' in html  # the team's default expiry, preselected
    created = member_client.post(
        reverse("share-link-new"),
        {"create": "1", "images": [str(i.image.public_id) for i in items], "expires_in_days": "7"},
        **HTMX,
    )
    assert created.status_code == 200 and "Link created" in created.content.decode()
    assert ShareLink.objects.get().items.count() == 3
    # Without JavaScript the bar's Share button lands on the same form, as a page.
    fallback = member_client.post(reverse("gallery-bulk"), {"ids": ids, "action": "share"})
    assert fallback.status_code == 302 and fallback["Location"].startswith("/links/new/?ids=")
    page = member_client.get(fallback["Location"]).content.decode()
    assert "<html" in page and "Share 3 images" in page


def test_items_without_an_image_cannot_be_shared(
    member: User, team: Team, member_client: Client, media_storage: Path
) -> None:
    running = make_item(team, member, status="processing")
    done = make_item(team, member, files=True)
    response = member_client.post(
        reverse("share-link-new"), {"ids": [str(running.public_id), str(done.public_id)]}, **HTMX
    )
    assert "Only finished images can be shared: 1 of the selected items has no image yet." in (
        response.content.decode()
    )


def test_share_is_offered_on_the_detail_page_compare_and_the_review_queue(
    membership: Membership,
    member: User,
    team: Team,
    member_client: Client,
    media_storage: Path,
    make_user: Callable[..., User],
) -> None:
    first, second = (make_item(team, member, files=True) for _ in range(2))
    detail = member_client.get(reverse("gallery-detail", args=[first.public_id])).content.decode()
    assert f'name="images" value="{first.image.public_id}"' in detail
    assert 'hx-get="/links/new/"' in detail
    compare = member_client.get(
        f"/compare/?ids={first.public_id}&ids={second.public_id}"
    ).content.decode()
    assert "Share these" in compare and compare.count('type="hidden" name="images"') == 2

    reviewer = make_user("reviewer", is_staff=True)
    membership_add(team=team, user=reviewer, role=Membership.Role.MEMBER)
    pending = make_image(team, member, state=State.PENDING)
    review_services.image_review(image=pending, reviewer=reviewer, to_state=State.APPROVED)
    client = Client()
    client.force_login(reviewer)
    queue = client.get(reverse("review-queue")).content.decode()
    assert "Recently approved in Design" in queue
    assert f'name="images" value="{pending.public_id}" checked' in queue
