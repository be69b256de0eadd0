"""Teams: which team a request acts for, and the writes that create teams and memberships.

Every view that touches team data goes through ``require_membership`` (or an ``access_*``
function built on it), so a user can never reach a team they do not belong to.
"""

from __future__ import annotations

from typing import cast

from django.db import transaction
from django.http import Http404, HttpRequest

from gallery.models import Membership, Team, User

SESSION_KEY = "active_team"


def memberships_for(user: User) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user).select_related("team").order_by("team__name", "id")
    )


def active_membership(request: HttpRequest) -> Membership | None:
    """The membership the request acts through: the team chosen in the session, else the first."""
    user = request.user
    if not user.is_authenticated:
        return None
    assert isinstance(user, User)
    memberships = memberships_for(user)
    chosen = request.session.get(SESSION_KEY)
    for membership in memberships:
        if str(membership.team.public_id) == chosen:
            return membership
    return memberships[0] if memberships else None


def require_membership(
    request: HttpRequest, *, generate: bool = False, manage: bool = False
) -> Membership:
    """The active membership, or 404 when there is none or its role does not allow the action."""
    membership = getattr(request, "membership", None)
    if not membership:  # a lazy object wrapping None is falsy, never "is None"
        raise Http404("You are not a member of any team yet.")
    if generate and not membership.can_generate:
        raise Http404("Viewers cannot generate images.")
    if manage and not membership.can_manage:
        raise Http404("Only team owners and admins can do that.")
    return cast(Membership, membership)


def team_switch(request: HttpRequest, *, team_public_id: str) -> Membership:
    user = request.user
    assert isinstance(user, User)
    for membership in memberships_for(user):
        if str(membership.team.public_id) == team_public_id:
            request.session[SESSION_KEY] = team_public_id
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
