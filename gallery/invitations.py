"""Bringing people into a team: invitation links, and accounts made by an admin.

An invitation token is ``secrets.token_urlsafe(32)``; only its SHA-256 is stored, and a
presented token is looked up by that hash. A link works once, until it expires or is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from gallery.models import Invitation, Membership, User
from gallery.teams import membership_add

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
DEFAULT_DAYS = 7
# Admins hand out these roles; making someone an owner is a deliberate act in the admin.
GRANTABLE_ROLES = (Membership.Role.ADMIN, Membership.Role.MEMBER, Membership.Role.VIEWER)


class InvitationError(Exception):
    """A request that cannot be met; ``field`` names the form field it belongs beside."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CreatedInvitation:
    invitation: Invitation
    token: str  # shown once, never stored

    @property
    def url(self) -> str:
        return settings.SITE_URL.rstrip("/") + reverse("invitation-accept", args=[self.token])


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _check_role(membership: Membership, role: str) -> None:
    if not membership.can_manage:
        raise InvitationError("Only team owners and admins can add members.")
    if role not in GRANTABLE_ROLES:
        raise InvitationError("Choose admin, member or viewer.", field="role")


@transaction.atomic
def invitation_create(
    *, membership: Membership, role: str, days: int = DEFAULT_DAYS
) -> CreatedInvitation:
    _check_role(membership, role)
    if not 1 <= days <= 30:
        raise InvitationError("A link can last between 1 and 30 days.", field="days")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        team_id=membership.team_id,
        created_by=membership.user,
        role=role,
        token_hash=_hash(token),
        expires_at=timezone.now() + timedelta(days=days),
    )
    return CreatedInvitation(invitation=invitation, token=token)


def invitation_resolve(token: str) -> Invitation | None:
    """The active invitation a token names, or None (unknown, used, revoked or expired)."""
    if not TOKEN_RE.match(token):
        return None
    digest = _hash(token)
    invitation = Invitation.objects.select_related("team").filter(token_hash=digest).first()
    if invitation is None or not hmac.compare_digest(invitation.token_hash, digest):
        return None
    return invitation if invitation.is_active else None


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """``user`` joins the invitation's team (once; a member already keeps their role)."""
    invitation = invitation_resolve(token)
    if invitation is None:
        raise InvitationError("This invitation link has expired or was already used.")
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not locked.is_active:
        raise InvitationError("This invitation link has expired or was already used.")
    existing = Membership.objects.filter(team_id=locked.team_id, user=user).first()
    membership = existing or membership_add(team=invitation.team, user=user, role=locked.role)
    locked.used_at = timezone.now()
    locked.used_by = user
    locked.save(update_fields=["used_at", "used_by"])
    return membership


@transaction.atomic
def invitation_revoke(*, membership: Membership, invitation: Invitation) -> None:
    if not membership.can_manage or invitation.team_id != membership.team_id:
        raise InvitationError("Only team owners and admins can revoke invitations.")
    Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def account_validate(*, username: str, password: str) -> None:
    """Raise InvitationError (with the field) for a taken username or a weak password."""
    username = username.strip()
    if not username:
        raise InvitationError("Choose a username.", field="username")
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise InvitationError(" ".join(exc.messages), field="username") from None
    if User.objects.filter(username__iexact=username).exists():
        raise InvitationError("That username is taken.", field="username")
    try:
        validate_password(password, User(username=username))
    except ValidationError as exc:
        raise InvitationError(" ".join(exc.messages), field="password") from None


@transaction.atomic
def account_create_for_invitation(*, token: str, username: str, password: str) -> User:
    """A newcomer with an invitation link makes their own account and joins the team."""
    if invitation_resolve(token) is None:
        raise InvitationError("This invitation link has expired or was already used.")
    account_validate(username=username, password=password)
    user = User.objects.create_user(username=username.strip(), password=password)
    invitation_accept(token=token, user=user)
    return user


@transaction.atomic
def member_create(*, membership: Membership, username: str, password: str, role: str) -> Membership:
    """An admin makes an account for someone and adds it to the team."""
    _check_role(membership, role)
    account_validate(username=username, password=password)
    user = User.objects.create_user(username=username.strip(), password=password)
    return membership_add(team=membership.team, user=user, role=role)


@transaction.atomic
def member_role_set(*, membership: Membership, target: Membership, role: str) -> Membership:
    _check_role(membership, role)
    if target.team_id != membership.team_id:
        raise InvitationError("No such member.")
    if target.role == Membership.Role.OWNER:
        raise InvitationError("An owner's role is changed in the admin.")
    target.role = role
    target.save(update_fields=["role"])
    return target


@transaction.atomic
def member_remove(*, membership: Membership, target: Membership) -> None:
    if not membership.can_manage or target.team_id != membership.team_id:
        raise InvitationError("Only team owners and admins can remove members.")
    if target.role == Membership.Role.OWNER:
        raise InvitationError("An owner cannot be removed here.")
    if target.pk == membership.pk:
        raise InvitationError("You cannot remove yourself.")
    target.delete()
