from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from gallery import teams
from gallery.views.gallery import grid


def home(request: HttpRequest) -> HttpResponse:
    """The team's gallery is the home page."""
    return grid(request)


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    membership = teams.team_switch(request, team_public_id=request.POST.get("team", ""))
    messages.success(request, f"You are now working in {membership.team.name}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "home"
    return redirect(target)
