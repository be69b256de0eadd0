"""Which team a request acts for, and the checked lookups of a team's members and
invitations.

Every view that touches team data goes through ``require_membership`` (or an ``access_*``
function built on it), so a user can never reach a team they do not belong to."""

from __future__ import annotations

from typing import cast

from django.http import Http404, HttpRequest

from gallery.access import first_or_404, parse_public_id
from gallery.accounts.models import User
from gallery.team.models import Invitation, Membership
from gallery.team.selectors import memberships_for

ACTIVE_TEAM_SESSION_KEY = "active_team"


def request_memberships(request: HttpRequest) -> list[Membership]:
    """The signed-in user's memberships, read once per request (the active team and the team
    switcher both need them; issue 15), each with its ``user`` set to the request's user so
    the visibility policy reads no second copy of it."""
    user = request.user
    if not user.is_authenticated:
        return []
    assert isinstance(user, User)
    cached: list[Membership] | None = getattr(request, "_gallery_memberships", None)
    if cached is None:
        cached = memberships_for(user)
        for membership in cached:
            membership.user = user
        request._gallery_memberships = cached  # type: ignore[attr-defined]
    return cached


def active_membership(request: HttpRequest) -> Membership | None:
    """The membership the request acts through: the team chosen in the session, else the first."""
    if not request.user.is_authenticated:
        return None
    memberships = request_memberships(request)
    chosen = request.session.get(ACTIVE_TEAM_SESSION_KEY)
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


def access_member(membership: Membership, pk: object) -> Membership:
    """A membership of the same team, by its id (members have no public id of their own)."""
    try:
        number = int(str(pk))
    except ValueError:
        raise Http404("No such member.") from None
    return first_or_404(
        Membership.objects.select_related("user").filter(team_id=membership.team_id, pk=number),
        "member",
    )


def access_invitation(membership: Membership, public_id: object) -> Invitation:
    return first_or_404(
        Invitation.objects.filter(team_id=membership.team_id, public_id=parse_public_id(public_id)),
        "invitation",
    )
