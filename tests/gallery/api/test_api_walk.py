"""Every operation of the API that takes an id answers 404 for another team's, whatever the
method and however wide the token (the pages' walk is tests/gallery/test_security_walk.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gallery.accounts.models import User
from gallery.api.models import WebhookEndpoint
from gallery.api.urls import api
from gallery.sharing import services as sharing_services
from gallery.team.models import Membership, Team
from gallery.team.services import team_create
from tests.factories import make_image
from tests.gallery.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


def _operations() -> list[tuple[str, str]]:
    schema = api.get_openapi_schema()
    return [
        (method.upper(), path)
        for path, methods in schema["paths"].items()
        if "{" in path
        for method in methods
    ]


OPERATIONS = _operations()


def _ids(team: Team, author: User) -> dict[str, str]:
    image = make_image(team, author, state="approved")
    link = sharing_services.share_link_create(
        membership=Membership.objects.get(team=team, user=author),
        images=[image],
        expires_in_days=7,
    ).link
    webhook = WebhookEndpoint.objects.create(
        team=team, url="https://hooks.example.com/in", events=["image.reviewed"], secret="whsec_x"
    )
    return {
        "image_id": str(image.public_id),
        "generation_id": str(image.generation.public_id),
        "link_id": str(link.public_id),
        "webhook_id": str(webhook.public_id),
    }


def test_the_walk_covers_every_kind_of_id() -> None:
    assert len(OPERATIONS) >= 12
    names = {part for _, path in OPERATIONS for part in path.split("/") if part.startswith("{")}
    assert names == {"{image_id}", "{generation_id}", "{link_id}", "{webhook_id}"}


def test_another_teams_ids_are_404_on_every_operation(
    make_user: Callable[..., User],
    make_token: Callable[..., str],
    media_storage: Path,
) -> None:
    me = make_user("me", is_staff=True)
    ours = team_create(name="Ours", owner=me)
    stranger = make_user("stranger")
    theirs = _ids(team_create(name="Theirs", owner=stranger), stranger)
    client = ApiClient(make_token(me, ours, ["read", "generate", "review", "share", "admin"]))
    for method, path in OPERATIONS:
        url = path.format(**theirs)
        body = '{"state": "approved"}'  # valid for every body, so the id is what is checked
        response = client.generic(method, url, body, content_type="application/json")
        assert response.status_code == 404, (method, url, response.status_code)
        assert response["Content-Type"] == "application/problem+json"
