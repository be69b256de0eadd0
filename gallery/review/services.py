"""Review decisions. The admin's bulk actions, the review queue and the members' "flag"
button all go through ``image_review`` and ``image_flag``, which change the state and
append a ``ReviewDecision`` in one transaction, so the history can never disagree with
the state."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction

from gallery.accounts.models import User
from gallery.api import webhooks
from gallery.errors import ApplicationError
from gallery.generation.models import GalleryImage
from gallery.review.models import ReviewDecision
from gallery.review.selectors import State, can_review
from gallery.team.models import Membership

NOTE_MAX_CHARS = 2000
# Members' flags send an image back to the reviewers; a few an hour is plenty for a person, and
# the cap keeps one account from emptying the gallery into the queue.
FLAGS_PER_HOUR = 10
FLAG_WINDOW_SECONDS = 60 * 60


class ReviewError(ApplicationError):
    """A review action a person asked for and cannot have; the message is for them."""


def _clean_note(note: str) -> str:
    # Notes come straight from a request, not through a form field (whose validator would
    # refuse it): a NUL byte cannot be stored in PostgreSQL text and means nothing here.
    note = note.replace("\x00", "").strip()
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
    if decision is not None:
        webhooks.image_reviewed(
            locked, reviewer=reviewer.username, from_state=decision.from_state, note=decision.note
        )
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
def image_flag(*, image: GalleryImage, membership: Membership, reason: str) -> ReviewDecision:
    """A member asks reviewers to look again: the image goes back to pending, with the reason.

    A flag takes an image out of live links while approval is required to share, so only
    those who can share may flag: viewers cannot. The caller has already checked that the
    member can see the image (``access_image``).
    """
    if not membership.can_generate:
        raise ReviewError("Viewers cannot flag images; ask a member of the team or a reviewer.")
    reason = _clean_note(reason)
    if not reason:
        raise ReviewError("Say what is wrong with the image, so reviewers know what to look at.")
    _count_flag(membership.user)
    locked, decision = _record(
        image_id=image.pk,
        actor=membership.user,
        to_state=State.PENDING,
        note=reason,
        kind=ReviewDecision.Kind.FLAG,
    )
    assert decision is not None
    image.review_state = locked.review_state
    return decision


def _count_flag(user: User) -> None:
    """Count one flag by ``user`` in the shared cache, or refuse past FLAGS_PER_HOUR in the
    current window."""
    key = f"review-flags:{user.pk}"
    cache.add(key, 0, timeout=FLAG_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=FLAG_WINDOW_SECONDS)
        count = 1
    if count > FLAGS_PER_HOUR:
        raise ReviewError(
            f"You have flagged {FLAGS_PER_HOUR} images in the last hour, the most allowed. "
            "Try again later, or tell a reviewer directly."
        )
