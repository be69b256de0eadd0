"""Reads about shared links: the team's links, what a link shows, the team's limits."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Prefetch, QuerySet

from gallery.generation.models import GalleryImage
from gallery.sharing.models import ShareLink, ShareLinkItem
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
        "created_by", "revoked_by"
    )


def links_with_items(membership: Membership) -> QuerySet[ShareLink]:
    """The team's links, newest first, each with its items and their images prefetched (the
    API's list: one query for the links, one for all their items)."""
    items = Prefetch("items", queryset=ShareLinkItem.objects.select_related("image"))
    return links_for(membership).prefetch_related(items).order_by("-created_at", "-id")


def link_images(link: ShareLink) -> list[GalleryImage]:
    """What the link shows now: its images in order, less any the team's policy withholds
    (an image rejected or flagged after it was shared, when only approved images may be)."""
    images = (
        GalleryImage.objects.filter(share_link_items__link=link)
        .select_related("generation__request")
        .prefetch_related("thumbnails")
        .order_by("share_link_items__position")
    )
    if link.team.share_requires_approval:
        images = images.filter(review_state=GalleryImage.ReviewState.APPROVED)
    return list(images)
