"""Review of gallery images: the decisions (writes) and the reviewer's queue (reads).

Reviewers are staff users. A staff user reviews the images of the teams they belong to; a
superuser reviews every team's. The admin's bulk actions, the review queue and the members'
"flag" button all go through ``image_review`` and ``image_flag``, which change the state and
append a ``ReviewDecision`` in one transaction, so the history can never disagree with the state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404

from gallery.models import GalleryImage, Membership, ReviewDecision, User
from gallery.selectors import _uuid

State = GalleryImage.ReviewState
NOTE_MAX_CHARS = 2000


class ReviewError(Exception):
    """A review action a person asked for and cannot have; the message is for them."""


# -- reads ---------------------------------------------------------------------------------------


def reviewable_teams_q(user: User, *, prefix: str = "") -> Q:
    """The rows (of images, generations, ...) in the teams ``user`` reviews."""
    if not (user.is_active and user.is_staff):
        return Q(pk__in=[])
    if user.is_superuser:
        return Q()
    teams = Membership.objects.filter(user_id=user.pk).values("team_id")
    return Q(**{f"{prefix}team_id__in": teams})


def can_review(user: User, image: GalleryImage) -> bool:
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or Membership.objects.filter(user=user, team=image.team_id).exists()


def review_queue(user: User) -> QuerySet[GalleryImage]:
    """Pending images the reviewer may decide, oldest first (a queue, not a feed)."""
    return (
        GalleryImage.objects.filter(reviewable_teams_q(user), review_state=State.PENDING)
        .select_related("team", "generation__request__author")
        .order_by("created_at", "id")
    )


def access_review_image(user: User, public_id: object) -> GalleryImage:
    """An image of a team ``user`` reviews, in any state; 404 otherwise."""
    image = (
        GalleryImage.objects.filter(reviewable_teams_q(user), public_id=_uuid(public_id))
        .select_related("team", "generation__request__author")
        .first()
    )
    if image is None:
        raise Http404("No such image.")
    return image


@dataclass(frozen=True)
class QueuePosition:
    previous: GalleryImage | None
    next: GalleryImage | None
    remaining: int


def queue_position(user: User, image: GalleryImage) -> QueuePosition:
    """The pending images either side of ``image`` in the queue, and how many are left.

    Works for an image that is no longer pending too (just decided, or decided by someone
    else meanwhile): its neighbours are found by its place in the order.
    """
    queue = review_queue(user)
    before = Q(created_at__lt=image.created_at) | Q(created_at=image.created_at, id__lt=image.pk)
    after = Q(created_at__gt=image.created_at) | Q(created_at=image.created_at, id__gt=image.pk)
    return QueuePosition(
        previous=queue.filter(before).order_by("-created_at", "-id").first(),
        next=queue.filter(after).first(),
        remaining=queue.count(),
    )


def latest_flag(image: GalleryImage) -> ReviewDecision | None:
    """The flag that put a pending image back in the queue, if that is how it got there."""
    decision = ReviewDecision.objects.filter(image=image).first()
    if decision is not None and decision.kind == ReviewDecision.Kind.FLAG:
        return decision
    return None


# -- writes --------------------------------------------------------------------------------------


def _clean_note(note: str) -> str:
    note = note.strip()
    if len(note) > NOTE_MAX_CHARS:
        raise ReviewError(f"Keep the note under {NOTE_MAX_CHARS} characters.")
    return note


def _record(
    *, image_id: int, actor: User, to_state: str, note: str, kind: str
) -> tuple[GalleryImage, ReviewDecision | None]:
    locked = GalleryImage.objects.select_for_update().get(pk=image_id)
    from_state = locked.review_state
    if from_state == to_state and kind == ReviewDecision.Kind.REVIEW and not note:
        return locked, None  # approving an approved image changes nothing worth a record
    decision = ReviewDecision(
        image=locked,
        actor=actor,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        note=note,
    )
    decision.full_clean()
    decision.save()
    if from_state != to_state:
        locked.review_state = to_state
        locked.save(update_fields=["review_state"])
    return locked, decision


@transaction.atomic
def image_review(
    *, image: GalleryImage, reviewer: User, to_state: str, note: str = ""
) -> ReviewDecision | None:
    """Move ``image`` to ``to_state`` as ``reviewer`` decided, with the decision logged.

    Returns the decision, or None when the image was already in that state and there is no
    note to add. Updates ``image.review_state`` in place.
    """
    if to_state not in State.values:
        raise ReviewError("Choose approve, reject or back to pending.")
    if not can_review(reviewer, image):
        raise ReviewError("Only staff reviewers in this image's team can review it.")
    locked, decision = _record(
        image_id=image.pk,
        actor=reviewer,
        to_state=to_state,
        note=_clean_note(note),
        kind=ReviewDecision.Kind.REVIEW,
    )
    image.review_state = locked.review_state
    return decision


def images_review(
    *, images: Iterable[GalleryImage], reviewer: User, to_state: str, note: str = ""
) -> int:
    """Review several images (the admin's bulk actions); returns how many changed."""
    changed = 0
    with transaction.atomic():
        for image in images:
            if image_review(image=image, reviewer=reviewer, to_state=to_state, note=note):
                changed += 1
    return changed


@transaction.atomic
def image_flag(*, image: GalleryImage, user: User, reason: str) -> ReviewDecision:
    """A member asks reviewers to look again: the image goes back to pending, with the reason.

    The caller has already checked that ``user`` can see the image (``access_image``).
    """
    reason = _clean_note(reason)
    if not reason:
        raise ReviewError("Say what is wrong with the image, so reviewers know what to look at.")
    locked, decision = _record(
        image_id=image.pk,
        actor=user,
        to_state=State.PENDING,
        note=reason,
        kind=ReviewDecision.Kind.FLAG,
    )
    assert decision is not None
    image.review_state = locked.review_state
    return decision
