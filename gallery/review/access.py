"""Access for reviewers: images and references of the teams a staff user reviews, and the
decorator that keeps everyone else out with a 404. See ``gallery.access`` for the pattern."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from gallery.access import first_or_404, parse_public_id
from gallery.accounts.models import User
from gallery.generation.models import GalleryImage, Reference
from gallery.review.selectors import reviewable_teams_q


def access_review_image(user: User, public_id: object) -> GalleryImage:
    """An image of a team ``user`` reviews, in any state; 404 otherwise."""
    return first_or_404(
        GalleryImage.objects.filter(
            reviewable_teams_q(user), public_id=parse_public_id(public_id)
        ).select_related("team", "generation__request__author"),
        "image",
    )


def access_review_reference(user: User, public_id: object) -> Reference:
    """A reference of a team ``user`` reviews (shown beside the image in the queue)."""
    return first_or_404(
        Reference.objects.filter(reviewable_teams_q(user), public_id=parse_public_id(public_id)),
        "reference",
    )


def staff_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Logged-in staff only; anyone else gets the same 404 as for a missing page."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if not request.user.is_staff:
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapped
