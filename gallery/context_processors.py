from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from gallery.accounts.models import User
from gallery.team.access import request_memberships


def gallery(request: HttpRequest) -> dict[str, object]:
    """Values every page needs: the simulator banner flag and the team switcher."""
    context: dict[str, object] = {"oxen_simulator": settings.OXEN_SIMULATOR}
    user = getattr(request, "user", None)
    if isinstance(user, User) and user.is_authenticated:
        membership = getattr(request, "membership", None)
        context["membership"] = membership if membership else None
        context["memberships"] = request_memberships(request)
    return context
