"""Reads of teams and their members."""

from __future__ import annotations

from gallery.accounts.models import User
from gallery.team.models import Membership


def team_members(membership: Membership) -> list[Membership]:
    return list(
        Membership.objects.filter(team_id=membership.team_id)
        .select_related("user")
        .order_by("user__username")
    )


def memberships_for(user: User) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user)
        # the team's budget too: every page's budget banner reads it (gallery.budget, issue 11)
        .select_related("team", "team__budget")
        .order_by("team__name", "id")
    )
