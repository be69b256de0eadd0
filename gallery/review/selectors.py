"""Review reads: who reviews which teams, the reviewer's queue and an image's latest flag.

Reviewers are staff users. A staff user reviews the images of the teams they belong to; a
superuser reviews every team's."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Max, Q, QuerySet

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage
from gallery.review.models import ReviewDecision
from gallery.team.models import Membership, Team

State = GalleryImage.ReviewState


def reviewable_teams_q(user: User, *, prefix: str = "", team_id: str = "team_id") -> Q:
    """The rows (of images, generations, ...) in the teams ``user`` reviews: ``prefix`` leads
    to the row that holds the team, ``team_id`` names its team column ("pk" on Team)."""
    if not (user.is_active and user.is_staff):
        return Q(pk__in=[])
    if user.is_superuser:
        return Q()
    teams = Membership.objects.filter(user_id=user.pk).values("team_id")
    return Q(**{f"{prefix}{team_id}__in": teams})


def reviewable_teams(user: User) -> QuerySet[Team]:
    return Team.objects.filter(reviewable_teams_q(user, team_id="pk"))


def reviewable_users(user: User) -> QuerySet[User]:
    """The people in the teams ``user`` reviews (everyone, for a superuser)."""
    if user.is_active and user.is_superuser:
        return User.objects.all()
    members = Membership.objects.filter(reviewable_teams_q(user)).values("user_id")
    return User.objects.filter(pk__in=members)


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


def recently_approved(membership: Membership, *, limit: int = 12) -> list[GalleryImage]:
    """The team's approved images, most recently approved first: the set a reviewer may want
    to share once the queue is done."""
    return list(
        GalleryImage.objects.filter(team_id=membership.team_id, review_state=State.APPROVED)
        .annotate(
            approved_at=Max(
                "review_decisions__created_at",
                filter=Q(review_decisions__to_state=State.APPROVED),
            )
        )
        .filter(approved_at__isnull=False)
        .select_related("generation__request")
        .order_by("-approved_at", "-id")[:limit]
    )
