"""The ``admin`` scope: a team's webhook endpoints through the API, for its owners and admins
only (before, the scope could be chosen on the tokens page but guarded nothing)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from gallery.accounts.models import User
from gallery.api.models import WebhookEndpoint
from gallery.team.models import Membership, Team
from tests.gallery.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_hooks(settings: Any) -> None:
    settings.WEBHOOK_PRIVATE_HOSTS = ["127.0.0.1"]


@pytest.fixture
def owner(team: Team) -> User:
    return Membership.objects.get(team=team, role=Membership.Role.OWNER).user


def send(client: ApiClient, method: str, path: str, body: Any = None) -> Any:
    response = client.generic(
        method, f"/api/v1{path}", json.dumps(body) if body is not None else "",
        content_type="application/json",
    )  # fmt: skip
    return response.status_code, (response.json() if response.content else None)


def test_an_admin_token_manages_the_team_s_webhooks(
    owner: User, team: Team, make_token: Callable[..., str]
) -> None:
    client = ApiClient(make_token(owner, team, ["admin"]))
    status, created = send(
        client, "POST", "/webhooks",
        {"url": "http://127.0.0.1:9/hook", "events": ["generation.succeeded"]},
    )  # fmt: skip
    assert status == 201 and created["secret"].startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get(team=team)
    assert created["id"] == str(endpoint.public_id) and created["is_active"] is True
    status, listed = send(client, "GET", "/webhooks")
    assert status == 200 and [i["id"] for i in listed["items"]] == [created["id"]]
    assert "secret" not in listed["items"][0]
    status, changed = send(
        client, "PATCH", f"/webhooks/{created['id']}",
        {"events": ["image.reviewed", "generation.failed"], "is_active": False},
    )  # fmt: skip
    assert status == 200 and changed["events"] == ["generation.failed", "image.reviewed"]
    assert (
        changed["is_active"] is False
        and send(client, "GET", f"/webhooks/{created['id']}")[0] == 200
    )
    assert send(client, "DELETE", f"/webhooks/{created['id']}")[0] == 204
    assert not WebhookEndpoint.objects.exists()


def test_bad_input_is_a_clear_422_naming_the_field(
    owner: User, team: Team, make_token: Callable[..., str]
) -> None:
    client = ApiClient(make_token(owner, team, ["admin"]))
    status, problem = send(
        client, "POST", "/webhooks", {"url": "http://example.com/x", "events": ["image.reviewed"]}
    )
    assert status == 422 and problem["errors"][0]["field"] == "body.url"
    assert "https" in problem["errors"][0]["message"]
    status, problem = send(
        client, "POST", "/webhooks", {"url": "http://127.0.0.1:9/x", "events": []}
    )
    assert status == 422 and problem["errors"][0]["field"] == "body.events"
    assert not WebhookEndpoint.objects.exists()


def test_the_admin_scope_and_an_admin_role_are_both_needed(
    owner: User, member: User, team: Team, make_token: Callable[..., str]
) -> None:
    without_scope = ApiClient(make_token(owner, team, ["read", "generate", "share"]))
    assert send(without_scope, "GET", "/webhooks")[0] == 403
    member_token = ApiClient(make_token(member, team, ["read"]))
    assert send(member_token, "GET", "/webhooks")[0] == 403  # a member's role caps the token
