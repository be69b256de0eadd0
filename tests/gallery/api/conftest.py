"""Fixtures for the JSON API: tokens with chosen scopes and clients that send them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from gallery.accounts.models import User
from gallery.api.tokens import api_token_create
from gallery.team.models import Membership, Team


class ApiClient(Client):
    """A test client that sends ``Authorization: Bearer <token>`` on every request."""

    def __init__(self, token: str, **defaults: Any) -> None:
        super().__init__(HTTP_AUTHORIZATION=f"Bearer {token}", **defaults)
        self.token = token


@pytest.fixture
def make_token() -> Callable[..., str]:
    def make(user: User, team: Team, scopes: list[str], **extra: Any) -> str:
        membership = Membership.objects.select_related("team", "user").get(user=user, team=team)
        return api_token_create(membership=membership, name="test", scopes=scopes, **extra).secret

    return make


@pytest.fixture
def api_client(
    member: User, team: Team, make_token: Callable[..., str]
) -> Callable[..., ApiClient]:
    """A client for ``member`` (of ``team``) with the scopes asked for (default: all a member
    can use)."""

    def make(scopes: list[str] | None = None, user: User | None = None) -> ApiClient:
        return ApiClient(make_token(user or member, team, scopes or ["read", "generate", "share"]))

    return make
