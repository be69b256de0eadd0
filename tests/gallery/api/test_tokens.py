"""Personal access tokens: shown once and stored hashed, scoped, never more than the user's
role allows, dead on the next request once revoked or expired; the session works too, with
its CSRF check."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from gallery.accounts.models import User
from gallery.api.models import ApiToken
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add, team_create
from tests.factories import make_image
from tests.gallery.api.conftest import ApiClient

pytestmark = pytest.mark.django_db
GENERATE = {"prompt": "a lighthouse at dusk", "parameters": {"size": "2K"}}


def test_token_page_shows_the_token_once_and_keeps_only_its_hash(
    member_client: Client, member: User
) -> None:
    response = member_client.post(
        "/account/api-tokens/", {"name": "feed", "scopes": ["read", "generate"]}
    )
    assert response.status_code == 200
    secret = re.search(r'value="(sg_[A-Za-z0-9_-]{43})"', response.content.decode()).group(1)
    token = ApiToken.objects.get(user=member)
    assert token.token_hash == hashlib.sha256(secret[3:].encode()).hexdigest()
    assert token.scopes == ["generate", "read"]
    assert secret not in member_client.get("/account/api-tokens/").content.decode()
    assert ApiClient(secret).get("/api/v1/team").json()["scopes"] == ["read", "generate"]


def test_token_is_recorded_as_used_with_its_client(
    api_client: Callable[..., ApiClient], member: User
) -> None:
    client = api_client(["read"])
    client.get("/api/v1/team", HTTP_USER_AGENT="feed-bot/2")
    token = ApiToken.objects.get(user=member)
    assert token.last_used_at is not None
    assert token.last_used_client.startswith("feed-bot/2")


def test_token_without_generate_scope_cannot_create(
    api_client: Callable[..., ApiClient],
) -> None:
    response = api_client(["read"]).post(
        "/api/v1/generations", GENERATE, content_type="application/json"
    )
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert "generate" in response.json()["detail"]


def test_viewer_token_cannot_create_even_with_the_generate_scope(
    team: Team, make_user: Callable[..., User], make_token: Callable[..., str]
) -> None:
    viewer = make_user("viewer")
    membership_add(team=team, user=viewer, role=Membership.Role.VIEWER)
    client = ApiClient(make_token(viewer, team, ["read", "generate", "share", "admin"]))
    response = client.post("/api/v1/generations", GENERATE, content_type="application/json")
    assert response.status_code == 403
    assert client.get("/api/v1/team").json()["scopes"] == ["read"]


def test_revoked_token_is_401_on_the_next_request(
    api_client: Callable[..., ApiClient], member: User
) -> None:
    client = api_client(["read"])
    assert client.get("/api/v1/team").status_code == 200
    ApiToken.objects.filter(user=member).update(revoked_at=timezone.now())
    response = client.get("/api/v1/team")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoking_on_the_page_ends_the_token(
    api_client: Callable[..., ApiClient], member_client: Client, member: User
) -> None:
    client = api_client(["read"])
    token = ApiToken.objects.get(user=member)
    member_client.post(f"/account/api-tokens/{token.public_id}/revoke/")
    assert client.get("/api/v1/team").status_code == 401


def test_expired_token_is_401(member: User, team: Team, make_token: Callable[..., str]) -> None:
    client = ApiClient(
        make_token(member, team, ["read"], expires_at=timezone.now() + timedelta(hours=1))
    )
    assert client.get("/api/v1/team").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        assert client.get("/api/v1/team").status_code == 401


def test_unknown_or_malformed_tokens_are_401(db: None) -> None:
    for token in ["sg_" + "a" * 43, "nope", "sg_"]:
        assert ApiClient(token).get("/api/v1/team").status_code == 401
    assert Client().get("/api/v1/team").status_code == 401


def test_someone_elses_token_cannot_be_revoked(
    api_client: Callable[..., ApiClient], member: User, make_user: Callable[..., User]
) -> None:
    api_client(["read"])
    token = ApiToken.objects.get(user=member)
    other = make_user("other")
    team_create(name="Other", owner=other)
    client = Client()
    client.force_login(other)
    assert client.post(f"/account/api-tokens/{token.public_id}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_session_auth_works_and_needs_csrf_for_writes(
    member: User, team: Team, media_storage: object
) -> None:
    image = make_image(team, member)
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.get("/api/v1/team").json()["role"] == "member"
    url = f"/api/v1/images/{image.public_id}/favourite"
    assert client.put(url).status_code == 403  # no CSRF token
    client.get("/account/api-tokens/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    response = client.put(url, HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200
    assert response.json()["favourite"] is True


def test_a_token_acts_only_in_its_own_team(
    api_client: Callable[..., ApiClient],
    make_user: Callable[..., User],
    media_storage: object,
) -> None:
    stranger = make_user("stranger")
    other_team = team_create(name="Other", owner=stranger)
    theirs = make_image(other_team, stranger, state="approved")
    client = api_client()
    for url in [
        f"/api/v1/images/{theirs.public_id}",
        f"/api/v1/images/{theirs.public_id}/original",
        f"/api/v1/generations/{theirs.generation.public_id}",
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response["Content-Type"] == "application/problem+json"
    response = client.post(
        f"/api/v1/generations/{theirs.generation.public_id}/retry",
        content_type="application/json",
    )
    assert response.status_code == 404
    response = client.post(
        "/api/v1/share-links",
        {"image_ids": [str(theirs.public_id)]},
        content_type="application/json",
    )
    assert response.status_code == 404
