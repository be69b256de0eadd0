"""Team writes: teams, members and roles, the team switcher, and the team's policy."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404, HttpRequest

from gallery.accounts.models import User
from gallery.accounts.services import account_validate
from gallery.errors import ApplicationError
from gallery.team.access import ACTIVE_TEAM_SESSION_KEY
from gallery.team.models import Membership, Team
from gallery.team.selectors import memberships_for

# Admins hand out these roles; making someone an owner is a deliberate act in the admin.
GRANTABLE_ROLES = (Membership.Role.ADMIN, Membership.Role.MEMBER, Membership.Role.VIEWER)


class TeamError(ApplicationError):
    """A change to a team's members or invitations that cannot be made."""


def require_grantable_role(membership: Membership, role: str) -> None:
    if not membership.can_manage:
        raise TeamError("Only team owners and admins can add members.")
    if role not in GRANTABLE_ROLES:
        raise TeamError("Choose admin, member or viewer.", field="role")


def team_switch(request: HttpRequest, *, team_public_id: str) -> Membership:
    user = request.user
    assert isinstance(user, User)
    for membership in memberships_for(user):
        if str(membership.team.public_id) == team_public_id:
            request.session[ACTIVE_TEAM_SESSION_KEY] = team_public_id
            return membership
    raise Http404("No such team.")


@transaction.atomic
def team_create(*, name: str, owner: User) -> Team:
    team = Team(name=name)
    team.full_clean()
    team.save()
    Membership.objects.create(team=team, user=owner, role=Membership.Role.OWNER)
    return team


@transaction.atomic
def membership_add(*, team: Team, user: User, role: str = Membership.Role.MEMBER) -> Membership:
    membership = Membership(team=team, user=user, role=role)
    membership.full_clean()
    membership.save()
    return membership


@transaction.atomic
def member_create(*, membership: Membership, username: str, password: str, role: str) -> Membership:
    """An admin makes an account for someone and adds it to the team."""
    require_grantable_role(membership, role)
    account_validate(username=username, password=password)
    user = User.objects.create_user(username=username.strip(), password=password)
    return membership_add(team=membership.team, user=user, role=role)


@transaction.atomic
def member_role_set(*, membership: Membership, target: Membership, role: str) -> Membership:
    require_grantable_role(membership, role)
    if target.team_id != membership.team_id:
        raise TeamError("No such member.")
    if target.role == Membership.Role.OWNER:
        raise TeamError("An owner's role is changed in the admin.")
    target.role = role
    target.save(update_fields=["role"])
    return target


@transaction.atomic
def member_remove(*, membership: Membership, target: Membership) -> None:
    if not membership.can_manage or target.team_id != membership.team_id:
        raise TeamError("Only team owners and admins can remove members.")
    if target.role == Membership.Role.OWNER:
        raise TeamError("An owner cannot be removed here.")
    if target.pk == membership.pk:
        raise TeamError("You cannot remove yourself.")
    target.delete()


@transaction.atomic
def team_policy_update(
    *,
    membership: Membership,
    pending_visible_to_team: bool,
    share_requires_approval: bool,
    share_default_expiry_days: int,
    share_max_expiry_days: int,
) -> Team:
    """Owners and admins set the team's review and sharing policy (0 days = no limit)."""
    if not membership.can_manage:
        raise TeamError("Only team owners and admins can change these settings.")
    if share_max_expiry_days and not share_default_expiry_days:
        raise TeamError(
            "With a maximum set, links need a default expiry too.",
            field="share_default_expiry_days",
        )
    if share_max_expiry_days and share_default_expiry_days > share_max_expiry_days:
        raise TeamError(
            "The default expiry cannot be longer than the maximum.",
            field="share_default_expiry_days",
        )
    team = Team.objects.select_for_update().get(pk=membership.team_id)
    team.pending_visible_to_team = pending_visible_to_team
    team.share_requires_approval = share_requires_approval
    team.share_default_expiry_days = share_default_expiry_days
    team.share_max_expiry_days = share_max_expiry_days
    team.full_clean()
    team.save()
    return team
