"""Issue 13, the security sweep's low findings: each pinned by the test that showed it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gallery.generation.models import Reference
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db


# -- 6. an upload over the cap leaves no temporary file behind -----------------------------------


def test_an_upload_over_the_cap_leaves_no_temporary_file_behind(
    member_client: Client, media_storage: Path, settings: Any, tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(uploads)
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1  # straight to a temporary file, as a big one goes
    huge = png_bytes((24, 24)) + b"\0" * (2 * 1024 * 1024)
    files = [SimpleUploadedFile(f"huge-{n}.png", huge, "image/png") for n in range(3)]
    response = member_client.post("/references/upload/", {"uploads": files})
    assert response.status_code == 422
    # The request (and so its upload handlers) is still alive through the response: nothing
    # but garbage collection would have freed a file the handlers left open.
    assert response.wsgi_request.upload_handlers
    assert sorted(p.name for p in uploads.iterdir()) == []
    assert Reference.objects.count() == 0


# -- 7. odd input is a validation error, never a server error ------------------------------------


def test_a_date_filter_at_the_end_of_the_calendar_is_a_clear_error(
    member_client: Client,
) -> None:
    response = member_client.get("/", {"date_to": "9999-12-31"})
    assert response.status_code == 400
    assert "Enter a date between 1900-01-01 and 2999-12-31." in response.content.decode()
    # The same for the other end, and for the infinite-scroll fragment.
    assert member_client.get("/", {"date_from": "0001-01-01"}).status_code == 400


def test_a_link_expiry_past_the_calendar_is_a_clear_error(
    member_client: Client, team: Any, member: Any, media_storage: Path
) -> None:
    from tests.factories import make_image

    team.share_max_expiry_days = 0  # no team maximum
    team.save()
    image = make_image(team, member, state="approved")
    response = member_client.post(
        "/links/new/",
        {"images": [str(image.public_id)], "create": "1", "expires_in_days": "3650000"},
    )
    assert response.status_code == 422
    assert "Ensure this value is less than or equal to 3650." in response.content.decode()

    # The same bound when a link's expiry is changed (issue 10's edit form also takes days as
    # numbers); "²" is a digit to str.isdigit but not to int().
    from gallery.sharing import services as sharing_services
    from gallery.sharing.models import ShareLink
    from gallery.team.models import Membership

    link = sharing_services.share_link_create(
        membership=Membership.objects.get(team=team, user=member), images=[image], expires_in_days=7
    ).link
    for days in ("3650000", "\u00b2"):
        response = member_client.post(
            f"/links/{link.public_id}/edit/", {"expires_in_days": days, "note": "changed"}
        )
        assert response.status_code == 422, days
    assert ShareLink.objects.get(pk=link.pk).note == ""


# -- 4. a request the review policy hides cannot be remixed or re-run ----------------------------


@pytest.mark.parametrize("state", ["rejected", "pending"])
def test_a_hidden_request_cannot_be_read_through_remix_or_run_again(
    team: Any, member: Any, make_user: Any, state: str
) -> None:
    from gallery.generation.models import GenerationRequest
    from gallery.team.models import Membership
    from gallery.team.services import membership_add
    from tests.factories import make_item

    team.pending_visible_to_team = False
    team.save()
    hidden = make_item(team, member, prompt="the unreleased logo", review_state=state)
    shown = make_item(team, member, prompt="the approved poster", review_state="approved")
    colleague = make_user("colleague")
    membership_add(team=team, user=colleague, role=Membership.Role.MEMBER)
    client = Client()
    client.force_login(colleague)
    requests_before = GenerationRequest.objects.count()

    remix = client.get("/generate/", {"remix": str(hidden.request.public_id)})
    assert remix.status_code == 404
    assert "the unreleased logo" not in remix.content.decode()
    assert client.post(f"/requests/{hidden.request.public_id}/rerun/").status_code == 404
    assert GenerationRequest.objects.count() == requests_before
    # A request the colleague can see still remixes; the author still sees their own.
    assert (
        "the approved poster"
        in client.get("/generate/", {"remix": str(shown.request.public_id)}).content.decode()
    )
    author = Client()
    author.force_login(member)
    assert (
        "the unreleased logo"
        in author.get("/generate/", {"remix": str(hidden.request.public_id)}).content.decode()
    )


# -- 10. who may revoke a link, and who may flag an image ----------------------------------------


def _client_for(team: Any, make_user: Any, name: str, role: str) -> tuple[Any, Client]:
    from gallery.team.services import membership_add

    user = make_user(name)
    membership_add(team=team, user=user, role=role)
    client = Client()
    client.force_login(user)
    return user, client


def test_only_the_author_or_a_team_admin_revokes_a_link(
    team: Any, member: Any, make_user: Any, media_storage: Path
) -> None:
    from gallery.sharing import services as sharing_services
    from gallery.sharing.models import ShareLink
    from gallery.team.models import Membership
    from tests.factories import make_image

    image = make_image(team, member, state="approved")
    owner_link = sharing_services.share_link_create(
        membership=Membership.objects.get(team=team, user__username="owner"),
        images=[image],
        expires_in_days=7,
    ).link
    _, colleague = _client_for(team, make_user, "colleague", Membership.Role.MEMBER)
    _, viewer = _client_for(team, make_user, "viewer", Membership.Role.VIEWER)
    _, admin = _client_for(team, make_user, "admin", Membership.Role.ADMIN)

    # A member sees the owner's link but is offered no Revoke button, and a forged POST fails:
    # 404, as for the link's panel and its edit form (one rule, link_can_manage, for all three).
    page = colleague.get("/links/").content.decode()
    assert str(owner_link.public_id) in page and "Revoke</button>" not in page
    for client in (colleague, viewer):
        response = client.post(f"/links/{owner_link.public_id}/revoke/")
        assert response.status_code == 404
        owner_link.refresh_from_db()
        assert owner_link.revoked_at is None
    # The service refuses them too, saying who may.
    with pytest.raises(sharing_services.ShareError, match="Only the person who made this link"):
        sharing_services.share_link_revoke(
            link=owner_link,
            membership=Membership.objects.get(team=team, user__username="colleague"),
        )
    # A team admin may.
    admin.post(f"/links/{owner_link.public_id}/revoke/")
    owner_link.refresh_from_db()
    assert owner_link.revoked_at is not None
    # The author may revoke their own.
    own = sharing_services.share_link_create(
        membership=Membership.objects.get(team=team, user=member), images=[image], expires_in_days=7
    ).link
    author = Client()
    author.force_login(member)
    assert "Revoke</button>" in author.get("/links/").content.decode()
    author.post(f"/links/{own.public_id}/revoke/")
    assert ShareLink.objects.get(pk=own.pk).revoked_at is not None


def test_the_rule_that_revokes_a_link_also_shows_its_address_and_changes_it(
    team: Any, member: Any, make_user: Any, media_storage: Path
) -> None:
    """Issue 10's link panel (address again, QR code) and edit form follow issue 13's rule:
    the author, the team's owners and admins, and staff reviewers; not any member who shares."""
    from gallery.sharing import services as sharing_services
    from gallery.team.models import Membership
    from tests.factories import make_image

    image = make_image(team, member, state="approved")
    created = sharing_services.share_link_create(
        membership=Membership.objects.get(team=team, user__username="owner"),
        images=[image],
        expires_in_days=7,
    )
    panel = f"/links/{created.link.public_id}/"
    edit = f"/links/{created.link.public_id}/edit/"
    _, colleague = _client_for(team, make_user, "colleague", Membership.Role.MEMBER)
    _, admin = _client_for(team, make_user, "admin", Membership.Role.ADMIN)
    reviewer, staff = _client_for(team, make_user, "reviewer", Membership.Role.MEMBER)
    reviewer.is_staff = True
    reviewer.save()

    listing = colleague.get("/links/").content.decode()
    assert str(created.link.public_id) in listing and panel not in listing  # no "Copy / edit"
    assert colleague.get(panel).status_code == 404
    assert colleague.post(edit, {"expires_in_days": "1", "note": "mine now"}).status_code == 404
    created.link.refresh_from_db()
    assert created.link.note == ""
    for client in (admin, staff):
        response = client.get(panel)
        assert response.status_code == 200 and created.url in response.content.decode()
        assert panel in client.get("/links/").content.decode()
    assert (
        admin.post(edit, {"expires_in_days": "keep", "note": "for the client"}).status_code == 302
    )
    created.link.refresh_from_db()
    assert created.link.note == "for the client"


def test_a_viewer_cannot_flag_an_image_out_of_live_links(
    team: Any, member: Any, make_user: Any, media_storage: Path
) -> None:
    from gallery.sharing import selectors as sharing_selectors
    from gallery.sharing import services as sharing_services
    from gallery.team.models import Membership
    from tests.factories import make_image

    team.share_requires_approval = True
    team.save()
    image = make_image(team, member, state="approved")
    link = sharing_services.share_link_create(
        membership=Membership.objects.get(team=team, user=member), images=[image], expires_in_days=7
    ).link
    _, viewer = _client_for(team, make_user, "viewer", Membership.Role.VIEWER)
    response = viewer.post(f"/images/{image.public_id}/flag/", {"reason": "I dislike it"})
    assert response.status_code == 302
    image.refresh_from_db()
    assert image.review_state == "approved"
    assert sharing_selectors.link_images(link) == [image]
    assert "Viewers cannot flag images" in viewer.get("/").content.decode()
    # The detail page offers a viewer no Flag form (a member sees one).
    detail = f"/items/{image.generation.public_id}/"
    assert f"/images/{image.public_id}/flag/" not in viewer.get(detail).content.decode()
    # A member still can: the flag is a safety valve, and it pulls the image until re-approved.
    _, colleague = _client_for(team, make_user, "colleague", Membership.Role.MEMBER)
    assert f"/images/{image.public_id}/flag/" in colleague.get(detail).content.decode()
    colleague.post(f"/images/{image.public_id}/flag/", {"reason": "the logo is wrong"})
    image.refresh_from_db()
    assert image.review_state == "pending"
    assert sharing_selectors.link_images(link) == []


# -- 7. found by the fuzz test ---------------------------------------------------------------------


@pytest.mark.parametrize("target", ["0", "home", "gallery-detail", "https://evil.example/"])
def test_a_next_field_that_is_not_a_path_goes_home(
    member_client: Client, team: Any, member: Any, media_storage: Path, target: str
) -> None:
    """django.shortcuts.redirect took "0" for a view name (NoReverseMatch: a 500); an unsafe
    or odd ``next`` now falls back to the gallery."""
    from tests.factories import make_image

    image = make_image(team, member, state="approved")
    response = member_client.post(
        f"/images/{image.public_id}/favourite/", {"on": "1", "next": target}
    )
    assert (response.status_code, response["Location"]) == (302, "/")
    switched = member_client.post("/teams/switch/", {"team": str(team.public_id), "next": target})
    assert (switched.status_code, switched["Location"]) == (302, "/")
    flagged = member_client.post(
        f"/images/{image.public_id}/flag/", {"reason": "odd", "next": target}
    )
    assert (flagged.status_code, flagged["Location"]) == (302, "/")
    # A path on this site is still where the form goes back to.
    back = member_client.post(
        f"/images/{image.public_id}/favourite/", {"on": "0", "next": "/?q=fox"}
    )
    assert back["Location"] == "/?q=fox"


def test_a_review_note_with_a_nul_byte_is_stored_without_it(
    member_client: Client, team: Any, member: Any, media_storage: Path
) -> None:
    """PostgreSQL text cannot hold NUL: the flag's reason, read straight from the request, was
    a DataError (500)."""
    from gallery.review.models import ReviewDecision
    from tests.factories import make_image

    image = make_image(team, member, state="approved")
    response = member_client.post(f"/images/{image.public_id}/flag/", {"reason": "bad\x00logo"})
    assert response.status_code == 302
    assert ReviewDecision.objects.get(image=image).note == "badlogo"
