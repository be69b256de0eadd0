from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from gallery.team.access import active_membership


class ActiveTeamMiddleware:
    """Sets ``request.membership`` (lazily) to the membership of the team the user works in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        def load() -> object:
            return active_membership(request)

        request.membership = SimpleLazyObject(load)  # type: ignore[attr-defined]
        return self.get_response(request)
