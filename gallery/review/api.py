"""The API's review (``/api/v1/review``): staff reviewers' queue and decisions, for the
token's team only, through ``review_queue``, ``access_review_image`` and ``image_review``."""

from __future__ import annotations

from datetime import datetime

from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema

from gallery.api.auth import require_scope
from gallery.api.models import Scope
from gallery.api.problems import ERRORS
from gallery.generation.models import GalleryImage
from gallery.review.access import access_review_image
from gallery.review.selectors import review_queue
from gallery.review.services import image_review

router = Router(tags=["review"])


class ReviewItem(Schema):
    id: str
    prompt: str
    author: str | None
    review_state: str
    sha256: str
    created_at: datetime
    original_url: str


class ReviewQueue(Schema):
    items: list[ReviewItem]


class QueueQuery(Schema):
    limit: int = Field(50, ge=1, le=200)


class DecisionIn(Schema):
    state: GalleryImage.ReviewState
    note: str = Field("", max_length=2000)


class DecisionOut(Schema):
    id: str
    review_state: str
    changed: bool


def review_item(image: GalleryImage) -> ReviewItem:
    request = image.generation.request
    return ReviewItem(
        id=str(image.public_id),
        prompt=request.prompt,
        author=request.author.username if request.author else None,
        review_state=image.review_state,
        sha256=image.sha256,
        created_at=image.created_at,
        original_url=f"/api/v1/images/{image.public_id}/original",
    )


@router.get("/review/queue", response={200: ReviewQueue, **ERRORS})
def queue(request: HttpRequest, query: Query[QueueQuery]) -> ReviewQueue:
    """Pending images of the token's team, oldest first (staff reviewers)."""
    membership = require_scope(request, Scope.REVIEW)
    images = review_queue(membership.user).filter(team_id=membership.team_id)[: query.limit]
    return ReviewQueue(items=[review_item(image) for image in images])


@router.post("/review/images/{image_id}/decision", response={200: DecisionOut, **ERRORS})
def decide(request: HttpRequest, image_id: str, data: DecisionIn) -> DecisionOut:
    """Approve, reject or send back to pending, with an optional note (logged)."""
    membership = require_scope(request, Scope.REVIEW)
    image = access_review_image(membership.user, image_id)
    if image.team_id != membership.team_id:
        raise Http404("No such image.")
    decision = image_review(
        image=image, reviewer=membership.user, to_state=data.state, note=data.note
    )
    return DecisionOut(
        id=str(image.public_id), review_state=image.review_state, changed=decision is not None
    )
