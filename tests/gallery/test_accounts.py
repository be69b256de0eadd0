from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from gallery.accounts.models import User
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add, team_create

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_login_page(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="password"' in page.content


def test_login_and_logout(client: Client, member: User) -> None:
    response = client.post(
        reverse("login"), {"username": "member", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get(reverse("logout")).status_code == 405  # GET never logs anyone out
    client.post(reverse("logout"))
    assert client.get("/").status_code == 302


def test_wrong_password_keeps_the_username_and_says_why(client: Client, member: User) -> None:
    response = client.post(reverse("login"), {"username": "member", "password": "nope"})
    assert response.status_code == 200
    assert b'value="member"' in response.content
    assert b"correct username and password" in response.content


def test_password_change(member_client: Client) -> None:
    response = member_client.post(
        reverse("password_change"),
        {
            "old_password": "correct horse battery",
            "new_password1": "a much longer new passphrase",
            "new_password2": "a much longer new passphrase",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="member").check_password("a much longer new passphrase")


def test_user_in_several_teams_can_switch(
    member_client: Client, member: User, team: Team, make_user: Callable[..., User]
) -> None:
    other = team_create(name="Marketing", owner=make_user("boss"))
    membership_add(team=other, user=member, role=Membership.Role.VIEWER)
    page = member_client.get("/")
    assert b"Marketing" in page.content and b"Design" in page.content
    assert page.context["membership"].team == team

    response = member_client.post(
        reverse("team-switch"), {"team": str(other.public_id), "next": "/"}
    )
    assert response.status_code == 302
    assert member_client.get("/").context["membership"].team == other


def test_switching_to_a_team_you_are_not_in_is_a_404(
    member_client: Client, make_user: Callable[..., User]
) -> None:
    stranger_team = team_create(name="Elsewhere", owner=make_user("stranger"))
    response = member_client.post(reverse("team-switch"), {"team": str(stranger_team.public_id)})
    assert response.status_code == 404


def test_team_switch_ignores_offsite_next(member_client: Client, team: Team) -> None:
    response = member_client.post(
        reverse("team-switch"), {"team": str(team.public_id), "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("home")


def test_bootstrap_creates_the_first_admin_once(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("bootstrap")
    first = capsys.readouterr().out
    password = next(
        line.split(":", 1)[1].strip() for line in first.splitlines() if "password:" in line
    )
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert Membership.objects.get(user=admin).role == Membership.Role.OWNER

    call_command("bootstrap")
    second = capsys.readouterr().out
    assert password not in second
    assert User.objects.count() == 1


def test_simulator_banner_shows_on_every_page(client: Client, settings: object) -> None:
    settings.OXEN_SIMULATOR = True  # type: ignore[attr-defined]
    assert b"Local Oxen simulator" in client.get(reverse("login")).content
    settings.OXEN_SIMULATOR = False  # type: ignore[attr-defined]
    assert b"Local Oxen simulator" not in client.get(reverse("login")).content
