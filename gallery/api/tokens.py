"""Personal access tokens: made (shown once), checked on every request, revoked.

A token is ``sg_`` followed by a 256-bit secret in base64url (``gallery.tokens.token_new``);
the prefix lets secret scanners find a leaked one. Only the secret's SHA-256 is stored, and a
presented token is found through ``gallery.tokens.row_for_token`` (constant-time compare)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from gallery.accounts.models import User
from gallery.api.models import ApiToken, Scope
from gallery.errors import ApplicationError
from gallery.team.models import Membership
from gallery.tokens import row_for_token, token_hash, token_new

TOKEN_PREFIX = "sg_"  # noqa: S105 - a public prefix, not a secret
NAME_MAX_CHARS = 100
LAST_USED_EVERY = timedelta(minutes=1)


class TokenError(ApplicationError):
    """A token that cannot be made as asked."""


class ScopeRefused(ApplicationError):
    """The token lacks the scope, or its user's role in the team does not allow the action."""

    status = 403


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str  # the whole "sg_…" value: shown once, never stored


def role_allows(membership: Membership, scope: str) -> bool:
    """What the user's role in the team allows, whatever a token says: the ceiling."""
    if scope == Scope.READ:
        return True
    if scope in (Scope.GENERATE, Scope.SHARE):
        return membership.can_generate
    if scope == Scope.REVIEW:
        return membership.user.is_active and membership.user.is_staff
    if scope == Scope.ADMIN:
        return membership.can_manage
    return False


@transaction.atomic
def api_token_create(
    *,
    membership: Membership,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
) -> CreatedToken:
    """A new token for ``membership``'s user in its team; the secret is returned once."""
    name = name.replace("\x00", "").strip()
    if not name:
        raise TokenError("Give the token a name.", field="name")
    if len(name) > NAME_MAX_CHARS:
        raise TokenError(f"Keep the name under {NAME_MAX_CHARS} characters.", field="name")
    chosen = sorted(set(scopes))
    unknown = [scope for scope in chosen if scope not in Scope.values]
    if unknown or not chosen:
        raise TokenError("Choose at least one of the listed scopes.", field="scopes")
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenError("Choose an expiry date in the future.", field="expires_at")
    secret = token_new()
    token = ApiToken.objects.create(
        user=membership.user,
        team=membership.team,
        name=name,
        token_hash=token_hash(secret),
        prefix=(TOKEN_PREFIX + secret)[:9],
        scopes=chosen,
        expires_at=expires_at,
    )
    return CreatedToken(token=token, secret=TOKEN_PREFIX + secret)


def api_token_revoke(*, token: ApiToken) -> bool:
    """Revoke ``token`` (already access-checked); False when it was already revoked."""
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db(fields=["revoked_at"])
    return bool(changed)


def tokens_for(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).select_related("team")


def api_token_authenticate(presented: str, *, client: str) -> tuple[ApiToken, Membership] | None:
    """The live token ``presented`` names and its user's membership in the token's team; None
    for an unknown, revoked or expired token, an inactive user or one no longer in the team.
    Records when and by which client the token was last used."""
    if not presented.startswith(TOKEN_PREFIX):
        return None
    token = row_for_token(
        ApiToken.objects.select_related("user", "team"), presented[len(TOKEN_PREFIX) :]
    )
    if token is None or not token.is_active or not token.user.is_active:
        return None
    membership = (
        Membership.objects.select_related("team", "user")
        .filter(team_id=token.team_id, user_id=token.user_id)
        .first()
    )
    if membership is None:
        return None
    now = timezone.now()
    client = client[:200]
    # At most one write a minute per token and client: a busy script does not rewrite the row
    # on every request.
    stale = token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY
    if stale or token.last_used_client != client:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_client=client)
    return token, membership
