"""The API's team (``/api/v1/team``): the token's team, the caller's role and scopes, and the
members (read only), through ``team_members``."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from gallery.api.auth import caller_of, require_scope
from gallery.api.models import Scope
from gallery.api.problems import ERRORS
from gallery.team.selectors import team_members

router = Router(tags=["team"])


class TeamOut(Schema):
    id: str
    name: str
    role: str
    scopes: list[str]
    pending_visible_to_team: bool
    share_requires_approval: bool


class MemberOut(Schema):
    username: str
    name: str
    role: str
    joined_at: datetime


class MemberList(Schema):
    items: list[MemberOut]


@router.get("/team", response={200: TeamOut, **ERRORS})
def team_get(request: HttpRequest) -> TeamOut:
    """The team this token (or the session) acts for, and what it may do there."""
    membership = require_scope(request, Scope.READ)
    caller = caller_of(request)
    team = membership.team
    return TeamOut(
        id=str(team.public_id),
        name=team.name,
        role=membership.role,
        scopes=[scope for scope in Scope.values if caller.has_scope(scope)],
        pending_visible_to_team=team.pending_visible_to_team,
        share_requires_approval=team.share_requires_approval,
    )


@router.get("/team/members", response={200: MemberList, **ERRORS})
def member_list(request: HttpRequest) -> MemberList:
    membership = require_scope(request, Scope.READ)
    return MemberList(
        items=[
            MemberOut(
                username=m.user.username,
                name=m.user.display_name,
                role=m.role,
                joined_at=m.created_at,
            )
            for m in team_members(membership)
        ]
    )
