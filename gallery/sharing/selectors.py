"""Reads about shared links: the team's links, what a link shows, the team's limits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from gallery.generation.models import GalleryImage
from gallery.sharing.models import (
    ProofingComment,
    ProofingPick,
    ProofingVisitor,
    ShareLink,
    ShareLinkItem,
)
from gallery.team.models import Membership, Team

# The longest a link may last: ten years (the calendar ends in 9999, so an expiry must be
# bounded somewhere; past ten years "never expires" says it better).
EXPIRY_MAX_DAYS = 3650
# With downloads off, people outside the team see each image at most this wide (the largest
# thumbnail that fits), not the 1600 px preview; the share form says so.
PREVIEW_WIDTH_WITHOUT_DOWNLOAD = 800


def expiry_limits(team: Team) -> tuple[int | None, int | None]:
    """(default days, maximum days) for the team; None means "never expires" / "no maximum"
    (even then a link lasts at most ``EXPIRY_MAX_DAYS``)."""
    maximum = min(team.share_max_expiry_days, EXPIRY_MAX_DAYS) or None
    default = min(team.share_default_expiry_days, EXPIRY_MAX_DAYS) or None
    if maximum is not None and (default is None or default > maximum):
        default = maximum
    return default, maximum


def unshareable_images(team: Team, images: Sequence[GalleryImage]) -> list[GalleryImage]:
    """The images the team's policy keeps out of links (unapproved, when approval is required)."""
    if not team.share_requires_approval:
        return []
    return [image for image in images if image.review_state != GalleryImage.ReviewState.APPROVED]


def links_for(membership: Membership) -> QuerySet[ShareLink]:
    return ShareLink.objects.filter(team_id=membership.team_id).select_related(
        "created_by", "revoked_by", "collection"
    )


def links_with_items(membership: Membership) -> QuerySet[ShareLink]:
    """The team's links, newest first, each with its items and their images prefetched (the
    API's list: one query for the links, one for all their items)."""
    items = Prefetch("items", queryset=ShareLinkItem.objects.select_related("image"))
    return links_for(membership).prefetch_related(items).order_by("-created_at", "-id")


def link_images(link: ShareLink) -> list[GalleryImage]:
    """What the link shows now: its images in order, less any the team's policy withholds
    (an image rejected or flagged after it was shared, when only approved images may be)."""
    return list(
        link_images_q(link).select_related("generation__request").prefetch_related("thumbnails")
    )


def link_images_q(link: ShareLink) -> QuerySet[GalleryImage]:
    """The link's images, in order, under the team's policy: its own items, or for a link
    that follows a collection, what the collection holds now (nothing once it is deleted)."""
    if link.follows_collection:
        if link.collection_id is None:
            return GalleryImage.objects.none()
        images = GalleryImage.objects.filter(
            collection_items__collection_id=link.collection_id
        ).order_by("collection_items__position", "collection_items__id")
    else:
        images = GalleryImage.objects.filter(share_link_items__link=link).order_by(
            "share_link_items__position"
        )
    if link.team.share_requires_approval:
        images = images.filter(review_state=GalleryImage.ReviewState.APPROVED)
    return images


# -- proofing ------------------------------------------------------------------------------------


@dataclass
class VisitorFeedback:
    """What one visitor did on a link: the images they picked and their comments."""

    visitor: ProofingVisitor
    picks: list[ProofingPick] = field(default_factory=list)
    comments: list[ProofingComment] = field(default_factory=list)


def link_feedback(link: ShareLink) -> list[VisitorFeedback]:
    """Who picked what and said what on ``link``, by visitor in the order they arrived (three
    queries however many visitors, picks and comments)."""
    by_visitor = {
        visitor.pk: VisitorFeedback(visitor)
        for visitor in ProofingVisitor.objects.filter(link=link).order_by("created_at", "id")
    }
    related = "image__generation__request"
    for pick in ProofingPick.objects.filter(link=link).select_related(related).order_by("id"):
        by_visitor[pick.visitor_id].picks.append(pick)
    for comment in ProofingComment.objects.filter(link=link).select_related(related).order_by("id"):
        by_visitor[comment.visitor_id].comments.append(comment)
    return [entry for entry in by_visitor.values() if entry.picks or entry.comments]


def link_picked_images(link: ShareLink) -> list[GalleryImage]:
    """The link's images (as it shows them now) that at least one visitor picked, in order."""
    picked = ProofingPick.objects.filter(link=link).values("image_id")
    return list(link_images_q(link).filter(pk__in=picked).select_related("generation"))


def image_feedback(
    membership: Membership, image: GalleryImage
) -> tuple[list[ProofingPick], list[ProofingComment]]:
    """The picks and comments visitors left on ``image`` through the team's links."""
    picks = list(
        ProofingPick.objects.filter(image=image, link__team_id=membership.team_id)
        .select_related("visitor", "link")
        .order_by("created_at", "id")
    )
    comments = list(
        ProofingComment.objects.filter(image=image, link__team_id=membership.team_id)
        .select_related("visitor", "link")
        .order_by("created_at", "id")
    )
    return picks, comments


def visitor_marks(visitor: ProofingVisitor) -> tuple[set[int], dict[int, list[ProofingComment]]]:
    """A visitor's own picks (image ids) and comments (by image id), for the public page."""
    picked = set(ProofingPick.objects.filter(visitor=visitor).values_list("image_id", flat=True))
    comments: dict[int, list[ProofingComment]] = {}
    for comment in ProofingComment.objects.filter(visitor=visitor).order_by("created_at", "id"):
        comments.setdefault(comment.image_id, []).append(comment)
    return picked, comments


def proofing_visitor(link: ShareLink, key: object) -> ProofingVisitor | None:
    """The visitor of ``link`` whose browser holds ``key``; None for any other key."""
    try:
        return ProofingVisitor.objects.filter(link=link, key=uuid.UUID(str(key))).first()
    except ValueError:
        return None
