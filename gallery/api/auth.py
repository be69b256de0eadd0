"""Who calls the API and what they may do: a bearer token (``sg_…``) or the browser's session
(with its CSRF token), each resolved to a team membership; scopes checked against the token
and capped by the member's role (a viewer's token cannot generate whatever its scopes say)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from gallery.accounts.models import User
from gallery.api.models import ApiToken, Scope
from gallery.api.ratelimit import api_rate_check
from gallery.api.tokens import ScopeRefused, api_token_authenticate, role_allows
from gallery.http import client_ip
from gallery.team.access import active_membership
from gallery.team.models import Membership


@dataclass(frozen=True)
class ApiCaller:
    """The member a request acts as, and through which token (None: the session)."""

    membership: Membership
    token: ApiToken | None

    @property
    def owner(self) -> str:
        """Whose idempotency keys and rate limit this request counts against."""
        return f"token:{self.token.pk}" if self.token else f"user:{self.membership.user_id}"

    def has_scope(self, scope: str) -> bool:
        granted = self.token is None or scope in self.token.scopes
        return granted and role_allows(self.membership, scope)


class BearerAuth(HttpBearer):
    """``Authorization: Bearer sg_…``."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiCaller | None:
        agent = request.headers.get("User-Agent", "")[:150]
        found = api_token_authenticate(token, client=f"{agent} ({client_ip(request)})".strip())
        if found is None:
            return None
        caller = ApiCaller(membership=found[1], token=found[0])
        api_rate_check(caller.owner)
        return caller


class SessionCsrfAuth(SessionAuth):
    """The app's own pages: the session cookie, with Django's CSRF check on unsafe methods."""

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiCaller | None:
        user = request.user
        if not (isinstance(user, User) and user.is_authenticated and user.is_active):
            return None
        membership = active_membership(request)
        if membership is None:
            return None
        caller = ApiCaller(membership=membership, token=None)
        api_rate_check(caller.owner)
        return caller


def caller_of(request: HttpRequest) -> ApiCaller:
    caller: Any = getattr(request, "auth", None)
    assert isinstance(caller, ApiCaller)  # every operation is behind the auth above
    return caller


def require_scope(request: HttpRequest, scope: Scope) -> Membership:
    """The caller's membership when both the token and the member's role allow ``scope``;
    403 otherwise."""
    caller = caller_of(request)
    if not caller.has_scope(scope):
        if caller.token is not None and scope not in caller.token.scopes:
            raise ScopeRefused(f"This token does not have the '{scope}' scope.")
        raise ScopeRefused(f"Your role in {caller.membership.team.name} does not allow '{scope}'.")
    return caller.membership
