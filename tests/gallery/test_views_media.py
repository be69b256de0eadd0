"""Media served by the app: headers, caching, access checks and the signed reference route."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from gallery.accounts.models import User
from gallery.generation.models import Reference
from gallery.generation.references import reference_signed_url
from gallery.team.models import Team
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def test_thumbnails_are_immutable_under_their_content_hash(
    member_client: Client, team: Team, member: User, media_storage: Path
) -> None:
    item = make_item(team, member, files=True)
    thumb = item.image.thumbnails.order_by("width").last()
    url = f"/media/t/{item.image.public_id}/{thumb.sha256}-{thumb.width}.webp"
    response = member_client.get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert b"".join(response.streaming_content).startswith(b"RIFF")
    wrong_hash = url.replace(thumb.sha256, "0" * 64)
    assert member_client.get(wrong_hash).status_code == 404
    assert Client().get(url).status_code == 302  # logged out: to the login page


def test_the_original_downloads_as_an_attachment(
    member_client: Client, team: Team, member: User, media_storage: Path
) -> None:
    item = make_item(team, member, files=True)
    response = member_client.get(f"/media/i/{item.image.public_id}/original/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_references_are_served_to_their_team_only(
    member_client: Client,
    make_reference: Callable[..., Reference],
    make_user: Callable[..., User],
) -> None:
    from gallery.team.services import team_create

    reference = make_reference()
    response = member_client.get(f"/media/r/{reference.public_id}/")
    assert response.status_code == 200 and response["Content-Type"] == reference.mime_type
    outsider = make_user("outsider")
    team_create(name="Theirs", owner=outsider)
    client = Client()
    client.force_login(outsider)
    assert client.get(f"/media/r/{reference.public_id}/").status_code == 404


def test_the_signed_reference_url_works_without_a_login_until_tampered(
    make_reference: Callable[..., Reference],
) -> None:
    reference = make_reference()
    path = "/" + reference_signed_url(reference).split("/", 3)[3]
    assert path.startswith("/r/")
    response = Client().get(path)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert Client().get(path[:-3] + "xx/").status_code == 404
