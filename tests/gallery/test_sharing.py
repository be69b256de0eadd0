"""Shared links: tokens, expiry, revocation, passwords and their rate limits, the public page and
its media, and the walls between teams."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage
from gallery.sharing import access as sharing_access
from gallery.sharing import passwords as sharing_passwords
from gallery.sharing import services as sharing_services
from gallery.sharing.models import ShareLink
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add, team_create
from gallery.tokens import token_new
from tests.factories import make_image

pytestmark = pytest.mark.django_db
State = GalleryImage.ReviewState
SECRET_PROMPT = "a secret product launch render"


@pytest.fixture
def image(team: Team, member: User, media_storage: Path) -> GalleryImage:
    return make_image(team, member, prompt=SECRET_PROMPT, state=State.APPROVED)


@pytest.fixture
def membership(team: Team, member: User) -> Membership:
    return Membership.objects.select_related("team", "user").get(team=team, user=member)


def create(
    membership: Membership, images: list[GalleryImage], **options: Any
) -> sharing_services.CreatedLink:
    options.setdefault("expires_in_days", 7)
    return sharing_services.share_link_create(membership=membership, images=images, **options)


def path_of(created: sharing_services.CreatedLink) -> str:
    return f"/s/{created.token}/"


def media(
    created: sharing_services.CreatedLink, image: GalleryImage, variant: str = "preview"
) -> str:
    return reverse("shared-media", args=[created.token, image.public_id, variant])


# -- creating ------------------------------------------------------------------------------------


def test_token_is_256_bits_and_only_its_hash_is_stored(
    membership: Membership, image: GalleryImage
) -> None:
    created = create(membership, [image])
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", created.token)  # 32 random bytes
    link = ShareLink.objects.get()
    assert link.token_hash == hashlib.sha256(created.token.encode()).hexdigest()
    stored = " ".join(str(value) for value in ShareLink.objects.values().get().values())
    assert created.token not in stored
    assert created.token[:8] not in stored and created.token[-8:] not in stored
    assert created.url == f"http://127.0.0.1:8000/s/{created.token}/" or created.url.endswith(
        f"/s/{created.token}/"
    )


def test_tokens_are_compared_in_constant_time(membership: Membership, image: GalleryImage) -> None:
    created = create(membership, [image])
    with mock.patch("gallery.tokens.hmac.compare_digest", wraps=hmac.compare_digest) as cmp:
        assert sharing_access.link_resolve(created.token).pk == created.link.pk
    cmp.assert_called_once()


def test_create_page_shows_the_address_once_and_the_list_never(
    member_client: Client, image: GalleryImage, team: Team
) -> None:
    form = member_client.get(reverse("share-link-new"), {"images": [str(image.public_id)]})
    assert form.status_code == 200
    assert form.context["form"]["expires_in_days"].initial == "30"  # the team default
    response = member_client.post(
        reverse("share-link-new"),
        {
            "create": "1",
            "images": [str(image.public_id)],
            "expires_in_days": "10",
            "password": "",
            "allow_download": "on",
            "note": "For the agency",
        },
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    url = re.search(r'value="(http[^"]+/s/([A-Za-z0-9_-]{43})/)"', response.content.decode())
    assert url is not None
    link = ShareLink.objects.get()
    assert link.note == "For the agency" and link.allow_download and not link.show_metadata
    assert timedelta(days=9, hours=23) < link.expires_at - timezone.now() <= timedelta(days=10)
    listing = member_client.get(reverse("share-links")).content.decode()
    assert "For the agency" in listing and url.group(2) not in listing


def test_gallery_can_post_just_the_images_to_open_the_form(
    member_client: Client, image: GalleryImage
) -> None:
    response = member_client.post(reverse("share-link-new"), {"images": [str(image.public_id)]})
    assert response.status_code == 200 and b"Create link" in response.content
    assert not ShareLink.objects.exists()


def test_expiry_respects_the_team_maximum(
    membership: Membership, image: GalleryImage, member_client: Client
) -> None:
    with pytest.raises(sharing_services.ShareError, match="at most 90 days"):
        create(membership, [image], expires_in_days=91)
    with pytest.raises(sharing_services.ShareError, match="must expire within 90 days"):
        create(membership, [image], expires_in_days=None)
    response = member_client.post(
        reverse("share-link-new"),
        {"create": "1", "images": [str(image.public_id)], "expires_in_days": "365"},
    )
    assert response.status_code == 422
    assert b"90" in response.content and not ShareLink.objects.exists()

    team = membership.team
    team.share_max_expiry_days = 0
    team.share_default_expiry_days = 0
    team.save()
    assert create(membership, [image], expires_in_days=None).link.expires_at is None


def test_unapproved_images_cannot_be_shared_when_the_team_requires_approval(
    membership: Membership,
    member: User,
    member_client: Client,
    image: GalleryImage,
    team: Team,
) -> None:
    pending = make_image(team, member, state=State.PENDING)
    rejected = make_image(team, member, state=State.REJECTED)
    create(membership, [pending, image])  # allowed while the team does not require approval
    team.share_requires_approval = True
    team.save()
    membership.team.refresh_from_db()
    with pytest.raises(sharing_services.ShareError, match="only shares approved images") as raised:
        create(membership, [image, pending, rejected])
    assert "2 of the chosen images are not approved" in str(raised.value)
    response = member_client.post(
        reverse("share-link-new"),
        {"create": "1", "images": [str(image.public_id), str(pending.public_id)], "note": "x"},
    )
    assert response.status_code == 422
    assert b"only shares approved images" in response.content
    assert ShareLink.objects.count() == 1


def test_an_image_rejected_after_sharing_disappears_when_approval_is_required(
    membership: Membership, image: GalleryImage, team: Team
) -> None:
    created = create(membership, [image])
    team.share_requires_approval = True
    team.save()
    GalleryImage.objects.filter(pk=image.pk).update(review_state=State.REJECTED)
    client = Client()
    page = client.get(path_of(created))
    assert page.status_code == 200 and str(image.public_id) not in page.content.decode()
    assert client.get(media(created, image)).status_code == 404


def test_viewers_cannot_share(
    team: Team, make_user: Callable[..., User], image: GalleryImage
) -> None:
    viewer = make_user("viewer")
    membership_add(team=team, user=viewer, role=Membership.Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    response = client.post(
        reverse("share-link-new"),
        {"create": "1", "images": [str(image.public_id)], "expires_in_days": "3"},
    )
    assert response.status_code == 404 and not ShareLink.objects.exists()


# -- the public page -----------------------------------------------------------------------------


def test_public_page_works_without_an_account_and_shows_only_the_shared_items(
    membership: Membership, member: User, image: GalleryImage, team: Team, settings: Any
) -> None:
    settings.SITE_URL = "https://gallery.example.com"
    member.email = "member@example.com"
    member.first_name = "Mona"
    member.save()
    other = make_image(team, member, prompt="not shared at all")
    created = create(membership, [image], note="For ACME only")
    response = Client().get(path_of(created))
    assert response.status_code == 200
    html = response.content.decode()
    assert str(image.public_id) in html
    for leak in (
        str(other.public_id),
        "not shared at all",
        "member@example.com",
        "Mona",
        "member",
        team.name,
        str(team.public_id),
        str(created.link.public_id),
        str(image.generation.public_id),
        "For ACME only",
        SECRET_PROMPT,  # metadata is off by default
        "/admin",
    ):
        assert leak not in html, leak
    og = f"https://gallery.example.com/s/{created.token}/i/{image.public_id}/preview/"
    assert f'<meta property="og:image" content="{og}">' in html
    assert 'property="og:title"' in html and 'property="og:description"' in html
    assert response["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"


def test_show_metadata_puts_the_prompt_on_the_page(
    membership: Membership, image: GalleryImage
) -> None:
    created = create(membership, [image], show_metadata=True)
    html = Client().get(path_of(created)).content.decode()
    assert SECRET_PROMPT in html and "2K" in html


def test_get_changes_nothing_but_the_counters(membership: Membership, image: GalleryImage) -> None:
    created = create(membership, [image])
    before = ShareLink.objects.values().get()
    client = Client()
    client.get(path_of(created))
    client.get(path_of(created))
    download = client.get(media(created, image, "download"))
    assert download.status_code == 200
    b"".join(download.streaming_content)  # type: ignore[arg-type]
    after = ShareLink.objects.values().get()
    assert after["view_count"] == 2 and after["download_count"] == 1
    assert after["last_accessed_at"] is not None
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {"view_count", "download_count", "last_accessed_at"}
    assert GalleryImage.objects.get(pk=image.pk).review_state == State.APPROVED


def test_media_responses_carry_strict_headers_and_originals_are_attachments(
    membership: Membership, image: GalleryImage
) -> None:
    created = create(membership, [image])
    client = Client()
    preview = client.get(media(created, image, "preview"))
    assert preview.status_code == 200
    assert preview["Content-Type"] == "image/webp"
    assert preview["X-Content-Type-Options"] == "nosniff"
    assert preview["Content-Security-Policy"].startswith("default-src 'none'")
    assert "no-store" in preview["Cache-Control"]
    assert preview["Content-Disposition"] == "inline"
    original = client.get(media(created, image, "download"))
    assert original["Content-Type"] == "image/jpeg"
    assert original["Content-Disposition"].startswith("attachment;")
    assert client.get(media(created, image, "original.html")).status_code == 404


def test_downloads_can_be_turned_off(membership: Membership, image: GalleryImage) -> None:
    created = create(membership, [image], allow_download=False)
    client = Client()
    assert b"Download" not in client.get(path_of(created)).content
    assert client.get(media(created, image, "download")).status_code == 404
    assert client.get(media(created, image, "preview")).status_code == 200
    assert ShareLink.objects.get().download_count == 0


def test_unknown_and_malformed_tokens_are_404(membership: Membership, image: GalleryImage) -> None:
    created = create(membership, [image])
    client = Client()
    assert client.get(f"/s/{token_new()}/").status_code == 404
    assert client.get("/s/short/").status_code == 404
    assert client.get(f"/s/{created.token[:-1]}!/").status_code == 404
    other = f"/s/{token_new()}/i/{image.public_id}/preview/"
    assert client.get(other).status_code == 404


# -- expiry and revocation -----------------------------------------------------------------------


def test_expired_link_is_gone_with_its_media(membership: Membership, image: GalleryImage) -> None:
    created = create(membership, [image], expires_in_days=1)
    client = Client()
    assert client.get(path_of(created)).status_code == 200
    ShareLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    page = client.get(path_of(created))
    assert page.status_code == 410
    assert b"This link is no longer available" in page.content
    assert client.get(media(created, image)).status_code == 410
    assert client.get(media(created, image, "download")).status_code == 410
    assert ShareLink.objects.get().state == ShareLink.State.EXPIRED


def test_revoked_link_is_gone_on_next_request_media_included(
    membership: Membership, image: GalleryImage, member_client: Client
) -> None:
    created = create(membership, [image])
    visitor = Client()
    assert visitor.get(path_of(created)).status_code == 200
    assert visitor.get(media(created, image)).status_code == 200
    assert (
        member_client.get(reverse("share-link-revoke", args=[created.link.public_id])).status_code
        == 405
    )  # GET never revokes
    response = member_client.post(reverse("share-link-revoke", args=[created.link.public_id]))
    assert response.status_code == 302
    assert visitor.get(path_of(created)).status_code == 410
    assert visitor.get(media(created, image)).status_code == 410
    assert visitor.get(media(created, image, "download")).status_code == 410
    link = ShareLink.objects.get()
    assert link.revoked_at is not None and link.state == "revoked"
    listing = member_client.get(reverse("share-links")).content.decode()
    assert "Revoked" in listing


# -- passwords -----------------------------------------------------------------------------------


def test_wrong_password_shows_nothing_and_right_one_unlocks_page_and_media(
    membership: Membership, image: GalleryImage
) -> None:
    created = create(membership, [image], password="open sesame")
    stored = ShareLink.objects.get().password_hash
    # Django's configured hasher (MD5 under tests for speed, PBKDF2 in production), never plain.
    assert identify_hasher(stored).algorithm == get_hasher().algorithm
    assert "open sesame" not in stored
    client = Client(enforce_csrf_checks=True)
    locked = client.get(path_of(created))
    assert locked.status_code == 200
    assert b"needs a password" in locked.content
    assert str(image.public_id) not in locked.content.decode()
    assert 'property="og:image"' not in locked.content.decode()
    assert locked["Cache-Control"] == "no-store"
    assert client.get(media(created, image)).status_code == 404
    token = client.cookies["csrftoken"].value

    wrong = client.post(path_of(created), {"password": "guess", "csrfmiddlewaretoken": token})
    assert wrong.status_code == 403
    assert b"not right" in wrong.content and str(image.public_id) not in wrong.content.decode()
    assert wrong["Cache-Control"] == "no-store"
    assert ShareLink.objects.get().view_count == 0

    right = client.post(path_of(created), {"password": "open sesame", "csrfmiddlewaretoken": token})
    assert right.status_code == 302
    page = client.get(path_of(created))
    assert str(image.public_id) in page.content.decode()
    assert client.get(media(created, image)).status_code == 200
    # Another browser has not given the password.
    assert Client().get(media(created, image)).status_code == 404


def test_password_attempts_are_rate_limited_per_link_and_client(
    membership: Membership, image: GalleryImage
) -> None:
    created = create(membership, [image], password="open sesame")
    attacker = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(5):
        assert attacker.post(path_of(created), {"password": "nope"}).status_code == 403
    blocked = attacker.post(path_of(created), {"password": "open sesame"})
    assert blocked.status_code == 429
    assert b"Too many wrong passwords" in blocked.content
    assert int(blocked["Retry-After"]) > 0
    assert attacker.get(media(created, image)).status_code == 404  # the right one didn't count
    # Someone else, from another address, is not locked out by that.
    friend = Client(REMOTE_ADDR="198.51.100.7")
    assert friend.post(path_of(created), {"password": "open sesame"}).status_code == 302


def test_failures_from_many_clients_never_lock_the_right_password_out(
    membership: Membership, image: GalleryImage
) -> None:
    """Issue 13, item 8: 5 wrong tries from each of 4 addresses used to lock the link for
    everyone for 15 minutes. The per-client limits stop each guesser; the visitor with the
    password still gets in at once."""
    created = create(membership, [image], password="open sesame")
    for n in range(4):
        guesser = Client(REMOTE_ADDR=f"192.0.2.{n + 1}")
        for _ in range(5):
            assert guesser.post(path_of(created), {"password": "nope"}).status_code == 403
        assert guesser.post(path_of(created), {"password": "nope"}).status_code == 429
    friend = Client(REMOTE_ADDR="198.51.100.99")
    assert friend.post(path_of(created), {"password": "open sesame"}).status_code == 302


def test_a_link_under_attack_slows_every_try_but_lets_the_password_in(
    membership: Membership, image: GalleryImage, settings: Any
) -> None:
    import time_machine

    settings.SHARE_PASSWORD_SLOW_AFTER = 8
    created = create(membership, [image], password="open sesame")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for n in range(8):  # a botnet: two tries from each of four addresses
            guesser = Client(REMOTE_ADDR=f"203.0.113.{n // 2 + 1}")
            guesser.post(path_of(created), {"password": "nope"})
        assert sharing_passwords.link_wait_seconds(8, sharing_passwords.password_limits()) == 2
        visitor = Client(REMOTE_ADDR="198.51.100.5")
        form = visitor.get(path_of(created)).content.decode()
        assert "every try waits a little" in form
        waited = re.search(r'name="waited" value="([^"]+)"', form)
        assert waited
        # Straight away, even the right password is asked to wait (it is not checked)...
        hurried = visitor.post(
            path_of(created), {"password": "open sesame", "waited": waited.group(1)}
        )
        assert hurried.status_code == 429
        assert 0 < int(hurried["Retry-After"]) <= 2
        assert "try again in 2 seconds" in hurried.content.decode()
        # ...and a post without a form's ticket (a script) waits the same.
        assert visitor.post(path_of(created), {"password": "open sesame"}).status_code == 429
        # A few seconds later the same form opens the link: slowed, never locked.
        clock.shift(3)
        opened = visitor.post(
            path_of(created), {"password": "open sesame", "waited": waited.group(1)}
        )
        assert opened.status_code == 302
        assert visitor.get(media(created, image)).status_code == 200
    # A ticket is only good for the address and link it was shown to.
    other = Client(REMOTE_ADDR="198.51.100.6")
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        refused = other.post(
            path_of(created), {"password": "open sesame", "waited": waited.group(1)}
        )
    assert refused.status_code == 429


def test_password_failures_on_one_client_across_links_are_limited(
    membership: Membership, image: GalleryImage, settings: Any
) -> None:
    settings.SHARE_PASSWORD_ATTEMPTS_PER_CLIENT = 4
    links = [create(membership, [image], password="open sesame") for _ in range(3)]
    client = Client(REMOTE_ADDR="203.0.113.9")
    for created in links[:2]:
        for _ in range(2):
            client.post(path_of(created), {"password": "nope"})
    assert client.post(path_of(links[2]), {"password": "open sesame"}).status_code == 429


# -- walls between teams -------------------------------------------------------------------------


def test_another_teams_images_links_and_media_all_answer_404(
    membership: Membership,
    member_client: Client,
    image: GalleryImage,
    make_user: Callable[..., User],
) -> None:
    stranger = make_user("stranger")
    elsewhere = team_create(name="Elsewhere", owner=stranger)
    theirs = make_image(elsewhere, stranger, state=State.APPROVED)
    their_membership = Membership.objects.select_related("team", "user").get(user=stranger)
    their_link = create(their_membership, [theirs])
    my_link = create(membership, [image])

    # Sharing their image, revoking their link, their thumbnails: all 404 for me.
    response = member_client.post(
        reverse("share-link-new"),
        {"create": "1", "images": [str(theirs.public_id)], "expires_in_days": "3"},
    )
    assert response.status_code == 404
    assert (
        member_client.post(
            reverse("share-link-revoke", args=[their_link.link.public_id])
        ).status_code
        == 404
    )
    assert (
        member_client.get(reverse("share-member-thumb", args=[theirs.public_id])).status_code == 404
    )
    assert (
        their_link.link.public_id.hex
        not in member_client.get(reverse("share-links")).content.decode()
    )
    # Their image through my link's token, and mine through theirs: 404.
    visitor = Client()
    assert visitor.get(media(my_link, theirs)).status_code == 404
    assert visitor.get(media(their_link, image)).status_code == 404
    # A service call with another team's image is refused too.
    with pytest.raises(sharing_services.ShareError):
        create(membership, [theirs])
    assert ShareLink.objects.get(pk=their_link.link.pk).revoked_at is None


# -- members' pages ------------------------------------------------------------------------------


def test_links_page_lists_state_and_counts_in_a_fixed_number_of_queries(
    membership: Membership,
    member_client: Client,
    image: GalleryImage,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    create(membership, [image], note="first")
    with django_assert_max_num_queries(12) as few:
        member_client.get(reverse("share-links"))
    for n in range(8):
        created = create(membership, [image], note=f"link {n}")
        if n % 3 == 0:
            sharing_services.share_link_revoke(link=created.link, membership=membership)
    ShareLink.objects.filter(note="link 1").update(expires_at=timezone.now() - timedelta(days=1))
    with django_assert_max_num_queries(len(few.captured_queries)):  # type: ignore[attr-defined]
        response = member_client.get(reverse("share-links"))
    html = response.content.decode()
    assert html.count('class="link-row') == 9
    assert html.count('"link-row link-revoked"') == 3
    assert html.count('"link-row link-expired"') == 1
    assert html.count(">Revoke</button>") == 6


def test_team_settings_are_for_owners_and_admins(
    team: Team, member_client: Client, make_user: Callable[..., User]
) -> None:
    assert member_client.get(reverse("team-settings")).status_code == 404
    owner = Client()
    owner.force_login(team.memberships.get(role="owner").user)
    data = {
        "pending_visible_to_team": "",
        "share_requires_approval": "on",
        "share_default_expiry_days": "60",
        "share_max_expiry_days": "30",
    }
    bad = owner.post(reverse("team-settings"), data)
    assert bad.status_code == 200 and b"cannot be longer than the maximum" in bad.content
    data["share_default_expiry_days"] = "14"
    assert owner.post(reverse("team-settings"), data).status_code == 302
    team.refresh_from_db()
    assert team.share_requires_approval and not team.pending_visible_to_team
    assert (team.share_default_expiry_days, team.share_max_expiry_days) == (14, 30)
