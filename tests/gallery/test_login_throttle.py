"""Logins are throttled (issue 13, item 2): per username and per client address, for the
app's login and the admin's, with a clear 429 page and Retry-After, and a superuser unlocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from gallery.accounts.models import User

pytestmark = pytest.mark.django_db
RIGHT = "correct horse battery"
LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


def _attempt(path: str, username: str, password: str, ip: str) -> Any:
    return Client(REMOTE_ADDR=ip).post(path, {"username": username, "password": password})


def _assert_locked(response: Any, settings: Any) -> None:
    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many failed logins" in html
    assert "Try again in 15 minutes." in html
    assert 0 < int(response["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()


@pytest.mark.parametrize("path", LOGIN_PAGES)
def test_wrong_passwords_lock_the_username_from_every_address(
    path: str, make_user: Callable[..., User], settings: Any
) -> None:
    make_user("editor", is_staff=True)
    limit = settings.AXES_FAILURE_LIMIT
    for n in range(limit - 1):
        wrong = _attempt(path, "editor", "guess", f"198.51.100.{n + 1}")
        assert wrong.status_code == 200
    _assert_locked(_attempt(path, "editor", "guess", "198.51.100.200"), settings)
    # The right password does not get through either, from yet another address...
    _assert_locked(_attempt(path, "editor", RIGHT, "203.0.113.77"), settings)
    # ...while another person signs in from the same addresses as usual.
    make_user("colleague", is_staff=True)
    assert _attempt(path, "colleague", RIGHT, "198.51.100.1").status_code == 302


@pytest.mark.parametrize("path", LOGIN_PAGES)
def test_one_address_trying_many_usernames_is_locked_out(
    path: str, make_user: Callable[..., User], settings: Any
) -> None:
    make_user("editor", is_staff=True)
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _attempt(path, f"user{n}", "guess", "192.0.2.9").status_code == 200
    _assert_locked(_attempt(path, "someone", "guess", "192.0.2.9"), settings)
    _assert_locked(_attempt(path, "editor", RIGHT, "192.0.2.9"), settings)
    assert _attempt(path, "editor", RIGHT, "192.0.2.10").status_code == 302


def test_the_lock_lifts_after_the_window(make_user: Callable[..., User], settings: Any) -> None:
    import time_machine
    from django.utils import timezone

    make_user("editor")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            _attempt("/accounts/login/", "editor", "guess", "192.0.2.50")
        locked = _attempt("/accounts/login/", "editor", RIGHT, "192.0.2.51")
        assert locked.status_code == 429
        assert int(locked["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
        clock.shift(settings.AXES_COOLOFF_TIME.total_seconds() + 1)
        assert _attempt("/accounts/login/", "editor", RIGHT, "192.0.2.51").status_code == 302


def test_a_superuser_unlocks_a_login_in_the_admin(
    make_user: Callable[..., User], settings: Any
) -> None:
    from axes.models import AccessAttempt

    make_user("editor")
    for n in range(settings.AXES_FAILURE_LIMIT):
        _attempt("/accounts/login/", "editor", "guess", f"192.0.2.{n + 1}")
    assert _attempt("/accounts/login/", "editor", RIGHT, "192.0.2.99").status_code == 429

    root = make_user("root", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(root)
    changelist = reverse("admin:axes_accessattempt_changelist")
    listing = admin.get(changelist, {"username": "editor"})
    assert listing.status_code == 200 and "editor" in listing.content.decode()
    attempts = AccessAttempt.objects.filter(username="editor")
    ids = [str(pk) for pk in attempts.values_list("pk", flat=True)]
    response = admin.post(changelist, {"action": "unlock_selected", "_selected_action": ids})
    assert response.status_code == 302
    assert _attempt("/accounts/login/", "editor", RIGHT, "192.0.2.99").status_code == 302
    # Other staff never see the attempts (every team's people and addresses are in them).
    staff = make_user("reviewer", is_staff=True)
    other = Client()
    other.force_login(staff)
    assert other.get(changelist).status_code == 403


def test_a_forged_forwarded_for_header_does_not_reset_the_count(
    make_user: Callable[..., User], settings: Any
) -> None:
    make_user("editor")
    client = Client(REMOTE_ADDR="192.0.2.1")
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(
            "/accounts/login/",
            {"username": f"user{n}", "password": "guess"},
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    locked = client.post(
        "/accounts/login/",
        {"username": "another", "password": "guess"},
        HTTP_X_FORWARDED_FOR="10.9.9.9",
    )
    assert locked.status_code == 429


@pytest.mark.parametrize("path", LOGIN_PAGES)
def test_a_username_longer_than_any_account_is_an_ordinary_failed_login(
    path: str, make_user: Callable[..., User], settings: Any
) -> None:
    """Found by the fuzz test: a 300-character username was a DataError (500) on PostgreSQL,
    axes storing it in a 255-character column. It is counted under its first 150."""
    long_name = "x" * 300
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _attempt(path, long_name, "guess", f"198.51.100.{n + 1}").status_code == 200
    # Counted as one username: the next failure from a new address locks it.
    _assert_locked(_attempt(path, long_name + "y", "guess", "198.51.100.200"), settings)
