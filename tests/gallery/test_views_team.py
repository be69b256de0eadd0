"""The team page: members and roles, invitation links, accounts made by an admin."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gallery.accounts.models import User
from gallery.team.models import Invitation, Membership, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(team: Team) -> Client:
    client = Client()
    client.force_login(team.memberships.get(role="owner").user)
    return client


def _link(html: str) -> str:
    match = re.search(r'value="(http[^"]+/join/[^"]+/)"', html)
    assert match, "no invitation link on the page"
    return match.group(1).split("127.0.0.1:8000", 1)[-1]


def test_members_see_the_team_but_cannot_manage_it(member_client: Client, member: User) -> None:
    html = member_client.get("/team/").content.decode()
    assert "owner" in html and "member" in html and "Invite by link" not in html
    assert (
        member_client.post("/team/invitations/", {"role": "member", "days": 7}).status_code == 404
    )
    assert member_client.post("/team/members/", {"username": "x"}).status_code == 404


def test_an_invitation_link_makes_an_account_and_joins_once(
    owner_client: Client, team: Team, client: Client
) -> None:
    response = owner_client.post("/team/invitations/", {"role": "viewer", "days": 3})
    link = _link(response.content.decode())
    invitation = Invitation.objects.get()
    assert len(invitation.token_hash) == 64 and link.split("/")[-2] not in invitation.token_hash

    page = client.get(link)
    assert "Join Design" in page.content.decode()
    weak = client.post(link, {"username": "newbie", "password": "123"})
    assert weak.status_code == 422 and "too short" in weak.content.decode()
    joined = client.post(link, {"username": "newbie", "password": "a long enough passphrase"})
    assert joined.status_code == 302
    membership = Membership.objects.get(user__username="newbie")
    assert membership.team == team and membership.role == "viewer"
    assert client.get("/generate/").status_code == 404  # a viewer looks but cannot generate
    assert client.get("/").status_code == 200
    assert Client().get(link).status_code == 404  # used once


def test_a_logged_in_person_joins_with_one_post(
    owner_client: Client, make_user: Callable[..., User]
) -> None:
    link = _link(
        owner_client.post("/team/invitations/", {"role": "member", "days": 7}).content.decode()
    )
    someone = make_user("someone")
    client = Client()
    client.force_login(someone)
    assert client.get(link).status_code == 200
    assert not Membership.objects.filter(user=someone).exists()  # GET changes nothing
    client.post(link)
    assert Membership.objects.get(user=someone).role == "member"


def test_expired_and_revoked_links_do_not_work(owner_client: Client) -> None:
    link = _link(
        owner_client.post("/team/invitations/", {"role": "member", "days": 1}).content.decode()
    )
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(link).status_code == 404
    link = _link(
        owner_client.post("/team/invitations/", {"role": "member", "days": 1}).content.decode()
    )
    fresh = Invitation.objects.filter(revoked_at__isnull=True, expires_at__gt=timezone.now()).get()
    owner_client.post(f"/team/invitations/{fresh.public_id}/revoke/")
    assert Client().get(link).status_code == 404


def test_an_admin_makes_an_account_and_changes_roles(owner_client: Client, team: Team) -> None:
    response = owner_client.post(
        "/team/members/",
        {"username": "designer", "password": "a long enough passphrase", "role": "member"},
    )
    assert response.status_code == 302
    added = Membership.objects.get(user__username="designer")
    taken = owner_client.post(
        "/team/members/",
        {"username": "DESIGNER", "password": "another passphrase", "role": "member"},
    )
    assert taken.status_code == 422 and "That username is taken." in taken.content.decode()
    owner_client.post(f"/team/members/{added.pk}/role/", {"role": "viewer"})
    added.refresh_from_db()
    assert added.role == "viewer"
    owner_client.post(f"/team/members/{added.pk}/role/", {"role": "owner"})
    added.refresh_from_db()
    assert added.role == "viewer"  # owners are made in the admin, deliberately
    owner_client.post(f"/team/members/{added.pk}/remove/")
    assert not Membership.objects.filter(pk=added.pk).exists()


def test_another_teams_member_ids_answer_404(
    owner_client: Client, make_user: Callable[..., User]
) -> None:
    from gallery.team.services import team_create

    other = team_create(name="Other", owner=make_user("boss"))
    theirs = other.memberships.get()
    assert owner_client.post(f"/team/members/{theirs.pk}/remove/").status_code == 404
    assert (
        owner_client.post(f"/team/members/{theirs.pk}/role/", {"role": "viewer"}).status_code == 404
    )
