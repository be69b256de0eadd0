"""Bringing people into a team by invitation link.

An invitation token is ``secrets.token_urlsafe(32)``; only its SHA-256 is stored, and a
presented token is looked up by that hash. A link works once, until it expires or is revoked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from gallery.accounts.models import User
from gallery.accounts.services import account_validate
from gallery.team.models import Invitation, Membership
from gallery.team.services import TeamError, membership_add, require_grantable_role
from gallery.tokens import row_for_token, token_hash, token_new

DEFAULT_DAYS = 7


@dataclass(frozen=True)
class CreatedInvitation:
    invitation: Invitation
    token: str  # shown once, never stored

    @property
    def url(self) -> str:
        return settings.SITE_URL.rstrip("/") + reverse("invitation-accept", args=[self.token])


@transaction.atomic
def invitation_create(
    *, membership: Membership, role: str, days: int = DEFAULT_DAYS
) -> CreatedInvitation:
    require_grantable_role(membership, role)
    if not 1 <= days <= 30:
        raise TeamError("A link can last between 1 and 30 days.", field="days")
    token = token_new()
    invitation = Invitation.objects.create(
        team_id=membership.team_id,
        created_by=membership.user,
        role=role,
        token_hash=token_hash(token),
        expires_at=timezone.now() + timedelta(days=days),
    )
    return CreatedInvitation(invitation=invitation, token=token)


def invitation_resolve(token: str) -> Invitation | None:
    """The active invitation a token names, or None (unknown, used, revoked or expired)."""
    invitation = row_for_token(Invitation.objects.select_related("team"), token)
    return invitation if invitation is not None and invitation.is_active else None


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """``user`` joins the invitation's team (once; a member already keeps their role)."""
    invitation = invitation_resolve(token)
    if invitation is None:
        raise TeamError("This invitation link has expired or was already used.")
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not locked.is_active:
        raise TeamError("This invitation link has expired or was already used.")
    existing = Membership.objects.filter(team_id=locked.team_id, user=user).first()
    membership = existing or membership_add(team=invitation.team, user=user, role=locked.role)
    locked.used_at = timezone.now()
    locked.used_by = user
    locked.save(update_fields=["used_at", "used_by"])
    return membership


@transaction.atomic
def invitation_revoke(*, membership: Membership, invitation: Invitation) -> None:
    if not membership.can_manage or invitation.team_id != membership.team_id:
        raise TeamError("Only team owners and admins can revoke invitations.")
    Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


@transaction.atomic
def account_create_for_invitation(*, token: str, username: str, password: str) -> User:
    """A newcomer with an invitation link makes their own account and joins the team."""
    if invitation_resolve(token) is None:
        raise TeamError("This invitation link has expired or was already used.")
    account_validate(username=username, password=password)
    user = User.objects.create_user(username=username.strip(), password=password)
    invitation_accept(token=token, user=user)
    return user
