"""Reads of teams and their members."""

from __future__ import annotations

from gallery.accounts.models import User, display_name
from gallery.team.models import Membership


def team_members(membership: Membership) -> list[Membership]:
    return list(
        Membership.objects.filter(team_id=membership.team_id)
        .select_related("user")
        .order_by("user__username")
    )


def member_choices(membership: Membership) -> list[tuple[str, str]]:
    """(username, display name) of the team's members by username, for the gallery's author
    filter: read as values (no model instances; issue 15)."""
    return [
        (username, display_name(username, first_name, last_name))
        for username, first_name, last_name in Membership.objects.filter(team_id=membership.team_id)
        .order_by("user__username")
        .values_list("user__username", "user__first_name", "user__last_name")
    ]


def memberships_for(user: User) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user)
        # the team's budget too: every page's budget banner reads it (gallery.budget, issue 11)
        .select_related("team", "team__budget")
        .order_by("team__name", "id")
    )
