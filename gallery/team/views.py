"""The team page: members and roles; owners and admins add people by invitation link or by
making their account, and set the team's policy. Joining through an invitation link;
switching teams."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery.accounts.models import User
from gallery.errors import ApplicationError, form_add_error
from gallery.http import redirect_to_next
from gallery.team import invitations
from gallery.team import services as team_services
from gallery.team.access import (
    ACTIVE_TEAM_SESSION_KEY,
    access_invitation,
    access_member,
    require_membership,
)
from gallery.team.forms import InvitationForm, MemberCreateForm, SignupForm, TeamPolicyForm
from gallery.team.models import Invitation, Membership
from gallery.team.selectors import team_members


@login_required
@require_http_methods(["GET", "POST"])
def team_settings(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    team = membership.team
    form = TeamPolicyForm(request.POST if request.method == "POST" else None, instance=team)
    if request.method == "POST" and form.is_valid():
        try:
            team_services.team_policy_update(membership=membership, **form.cleaned_data)
        except ApplicationError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, "Team settings saved.")
            return redirect("team-settings")
    return render(request, "team/team_settings.html", {"form": form, "team": team})


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    membership = team_services.team_switch(request, team_public_id=request.POST.get("team", ""))
    messages.success(request, f"You are now working in {membership.team.name}.")
    return redirect_to_next(request)


def _team_context(membership: Membership, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "members": team_members(membership),
        "roles": team_services.GRANTABLE_ROLES,
        "invitation_form": InvitationForm(),
        "member_form": MemberCreateForm(),
    }
    if membership.can_manage:
        context["invitations"] = [
            i
            for i in Invitation.objects.filter(team_id=membership.team_id).select_related(
                "created_by", "used_by"
            )[:50]
        ]
    context.update(extra)
    return context


@login_required
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    return render(request, "team/team.html", _team_context(membership))


@login_required
@require_POST
def invitation_create(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            created = invitations.invitation_create(
                membership=membership,
                role=form.cleaned_data["role"],
                days=form.cleaned_data["days"],
            )
        except ApplicationError as exc:
            form_add_error(form, exc)
        else:
            # The link is shown once, on this response; only its hash is stored.
            return render(
                request,
                "team/team.html",
                _team_context(membership, created_link=created.url, created=created.invitation),
            )
    return render(
        request, "team/team.html", _team_context(membership, invitation_form=form), status=422
    )


@login_required
@require_POST
def member_create(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    form = MemberCreateForm(request.POST)
    if form.is_valid():
        try:
            added = team_services.member_create(
                membership=membership,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                role=form.cleaned_data["role"],
            )
        except ApplicationError as exc:
            form_add_error(form, exc)
        else:
            messages.success(
                request, f"{added.user.username} joined as {added.get_role_display()}."
            )
            return redirect("team")
    return render(
        request, "team/team.html", _team_context(membership, member_form=form), status=422
    )


@login_required
@require_POST
def member_role(request: HttpRequest, pk: str) -> HttpResponse:
    membership = require_membership(request, manage=True)
    target = access_member(membership, pk)
    try:
        team_services.member_role_set(
            membership=membership, target=target, role=request.POST.get("role", "")
        )
    except ApplicationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target.user.username} is now {target.get_role_display()}.")
    return redirect("team")


@login_required
@require_POST
def member_remove(request: HttpRequest, pk: str) -> HttpResponse:
    membership = require_membership(request, manage=True)
    target = access_member(membership, pk)
    try:
        team_services.member_remove(membership=membership, target=target)
    except ApplicationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target.user.username} was removed from the team.")
    return redirect("team")


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, manage=True)
    invitation = access_invitation(membership, public_id)
    invitations.invitation_revoke(membership=membership, invitation=invitation)
    messages.success(request, "The invitation link no longer works.")
    return redirect("team")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Open to anyone holding the link: a logged-in person joins with one click (a POST);
    a newcomer makes an account here."""
    invitation = invitations.invitation_resolve(token)
    if invitation is None:
        return render(request, "team/invitation_gone.html", status=404)
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                assert isinstance(request.user, User)
                joined = invitations.invitation_accept(token=token, user=request.user)
            elif form.is_valid():
                user = invitations.account_create_for_invitation(
                    token=token,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                )
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                joined = Membership.objects.select_related("team").get(
                    user=user, team_id=invitation.team_id
                )
            else:
                joined = None
        except ApplicationError as exc:
            if exc.field:
                form_add_error(form, exc)
            else:
                messages.error(request, str(exc))
            joined = None
        if joined is not None:
            request.session[ACTIVE_TEAM_SESSION_KEY] = str(joined.team.public_id)
            messages.success(request, f"Welcome to {joined.team.name}.")
            return redirect("home")
    return render(
        request,
        "team/invitation.html",
        {"invitation": invitation, "form": form},
        status=422 if request.method == "POST" else 200,
    )
