"""The review queue for staff, their media view, and the members' "flag" button."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from gallery.accounts.models import User
from gallery.browse.access import access_image
from gallery.errors import ApplicationError
from gallery.generation.models import GalleryImage
from gallery.http import HtmxRequest, redirect_to_next
from gallery.media import renditions
from gallery.media import views as media_views
from gallery.review import access as review_access
from gallery.review import selectors as review_selectors
from gallery.review import services as review_services
from gallery.review.access import access_review_reference, staff_required
from gallery.review.models import ReviewDecision
from gallery.team.access import require_membership

DECISIONS = {
    "approved": GalleryImage.ReviewState.APPROVED,
    "rejected": GalleryImage.ReviewState.REJECTED,
    "pending": GalleryImage.ReviewState.PENDING,
}
# Staff media is only ever shown to logged-in reviewers: a short private cache is harmless.
STAFF_MEDIA_CACHE = "private, max-age=60"


def _reviewer(request: HttpRequest) -> User:
    return cast(User, request.user)


@staff_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    first = review_selectors.review_queue(_reviewer(request)).first()
    if first is not None:
        return redirect("review-image", public_id=first.public_id)
    return render(request, "review/queue_empty.html", {"approved": _approved_set(request)})


def _approved_set(request: HttpRequest) -> list[GalleryImage]:
    """The active team's recently approved images, offered for sharing by a reviewer who may
    share in that team (a superuser reviewing other teams shares from those teams)."""
    membership = getattr(request, "membership", None)
    if not membership or not membership.can_generate:
        return []
    return review_selectors.recently_approved(membership)


@staff_required
@require_GET
def queue_image(request: HttpRequest, public_id: str) -> HttpResponse:
    reviewer = _reviewer(request)
    image = review_access.access_review_image(reviewer, public_id)
    generation_request = image.generation.request
    return render(
        request,
        "review/queue.html",
        {
            "image": image,
            "generation_request": generation_request,
            "references": generation_request.ordered_references(),
            "position": review_selectors.queue_position(reviewer, image),
            "flag": review_selectors.latest_flag(image),
            "decisions": list(ReviewDecision.objects.filter(image=image)),
            "approved": _approved_set(request),
        },
    )


@staff_required
@require_POST
def decide(request: HttpRequest, public_id: str) -> HttpResponse:
    reviewer = _reviewer(request)
    image = review_access.access_review_image(reviewer, public_id)
    to_state = DECISIONS.get(request.POST.get("decision", ""))
    note = request.POST.get("note", "")
    if to_state is None:
        messages.error(request, "Choose approve or reject.")
        return redirect("review-image", public_id=image.public_id)
    try:
        review_services.image_review(image=image, reviewer=reviewer, to_state=to_state, note=note)
    except ApplicationError as exc:
        messages.error(request, str(exc))
        return redirect("review-image", public_id=image.public_id)
    messages.success(request, f"{image.get_review_state_display()}.")
    position = review_selectors.queue_position(reviewer, image)
    following = position.next or review_selectors.review_queue(reviewer).first()
    if following is None:
        return redirect("review-queue")
    return redirect("review-image", public_id=following.public_id)


@staff_required
@require_GET
def image_media(request: HttpRequest, public_id: str, variant: str) -> HttpResponseBase:
    """Media of an image the reviewer may review (the queue and the admin's thumbnails)."""
    if variant not in renditions.VARIANTS:
        raise Http404("No such variant.")
    image = review_access.access_review_image(_reviewer(request), public_id)
    return media_views.media_response(image, variant, cache_control=STAFF_MEDIA_CACHE)


@staff_required
@require_GET
def reference_media(request: HttpRequest, public_id: str) -> HttpResponseBase:
    reference = access_review_reference(_reviewer(request), public_id)
    return media_views.file_response(
        reference.file.name or "", reference.mime_type, cache_control=STAFF_MEDIA_CACHE
    )


@login_required
@require_POST
def flag(request: HtmxRequest, public_id: str) -> HttpResponse:
    """A member flags an image they can see; htmx gets the history fragment back."""
    membership = require_membership(request)
    image = access_image(membership, public_id)
    try:
        review_services.image_flag(
            image=image, membership=membership, reason=request.POST.get("reason", "")
        )
    except ApplicationError as exc:
        error = str(exc)
    else:
        error = ""
    if request.htmx:
        return render(
            request,
            "review/_history.html",
            {"image": image, "flag_error": error, "can_flag": membership.can_generate},
            status=422 if error else 200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Thanks: the image is back in front of the reviewers.")
    return redirect_to_next(request)
