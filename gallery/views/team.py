"""The team page: members and roles; owners and admins add people by invitation link or by
making their account. Joining through an invitation link."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery import invitations
from gallery.forms import InvitationForm, MemberCreateForm, SignupForm
from gallery.models import Invitation, Membership, User
from gallery.selectors import _uuid, team_members
from gallery.teams import SESSION_KEY, require_membership


def _team_context(membership: Membership, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "members": team_members(membership),
        "roles": invitations.GRANTABLE_ROLES,
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
    return render(request, "gallery/team.html", _team_context(membership))


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
        except invitations.InvitationError as exc:
            form.add_error(exc.field, str(exc))
        else:
            # The link is shown once, on this response; only its hash is stored.
            return render(
                request,
                "gallery/team.html",
                _team_context(membership, created_link=created.url, created=created.invitation),
            )
    return render(
        request, "gallery/team.html", _team_context(membership, invitation_form=form), status=422
    )


@login_required
@require_POST
def member_create(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    form = MemberCreateForm(request.POST)
    if form.is_valid():
        try:
            added = invitations.member_create(
                membership=membership,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                role=form.cleaned_data["role"],
            )
        except invitations.InvitationError as exc:
            form.add_error(exc.field, str(exc))
        else:
            messages.success(
                request, f"{added.user.username} joined as {added.get_role_display()}."
            )
            return redirect("team")
    return render(
        request, "gallery/team.html", _team_context(membership, member_form=form), status=422
    )


def _member(membership: Membership, pk: str) -> Membership:
    try:
        return Membership.objects.select_related("user").get(team_id=membership.team_id, pk=int(pk))
    except (ValueError, Membership.DoesNotExist):
        raise Http404("No such member.") from None


@login_required
@require_POST
def member_role(request: HttpRequest, pk: str) -> HttpResponse:
    membership = require_membership(request, manage=True)
    target = _member(membership, pk)
    try:
        invitations.member_role_set(
            membership=membership, target=target, role=request.POST.get("role", "")
        )
    except invitations.InvitationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target.user.username} is now {target.get_role_display()}.")
    return redirect("team")


@login_required
@require_POST
def member_remove(request: HttpRequest, pk: str) -> HttpResponse:
    membership = require_membership(request, manage=True)
    target = _member(membership, pk)
    try:
        invitations.member_remove(membership=membership, target=target)
    except invitations.InvitationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target.user.username} was removed from the team.")
    return redirect("team")


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, manage=True)
    invitation = Invitation.objects.filter(
        team_id=membership.team_id, public_id=_uuid(public_id)
    ).first()
    if invitation is None:
        raise Http404("No such invitation.")
    invitations.invitation_revoke(membership=membership, invitation=invitation)
    messages.success(request, "The invitation link no longer works.")
    return redirect("team")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Open to anyone holding the link: a logged-in person joins with one click (a POST);
    a newcomer makes an account here."""
    invitation = invitations.invitation_resolve(token)
    if invitation is None:
        return render(request, "gallery/invitation_gone.html", status=404)
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
        except invitations.InvitationError as exc:
            if exc.field:
                form.add_error(exc.field, str(exc))
            else:
                messages.error(request, str(exc))
            joined = None
        if joined is not None:
            request.session[SESSION_KEY] = str(joined.team.public_id)
            messages.success(request, f"Welcome to {joined.team.name}.")
            return redirect("home")
    return render(
        request,
        "gallery/invitation.html",
        {"invitation": invitation, "form": form},
        status=422 if request.method == "POST" else 200,
    )
