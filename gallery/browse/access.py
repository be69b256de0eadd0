"""Access to the team's gallery: which images and generations a member may see, and the
checked lookups every view uses (see ``gallery.access`` for the pattern)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from gallery.access import first_or_404, parse_public_id
from gallery.generation.models import GalleryImage, Generation
from gallery.team.models import Membership


def visible_images_q(membership: Membership) -> Q:
    """Which of the team's images this member may see, under the team's review policy.

    Approved images are visible to everyone in the team. Pending and rejected images are
    visible to their author, the team's owners and admins and staff reviewers, and also to
    everyone when the team shows pending images to the whole team (rejected ones never are).
    """
    q = Q(team_id=membership.team_id)
    if membership.can_manage or membership.user.is_staff:
        return q
    own = Q(generation__request__author_id=membership.user_id)
    shown = Q(review_state=GalleryImage.ReviewState.APPROVED)
    if membership.team.pending_visible_to_team:
        shown |= Q(review_state=GalleryImage.ReviewState.PENDING)
    return q & (shown | own)


def images_for(membership: Membership) -> QuerySet[GalleryImage]:
    return GalleryImage.objects.filter(visible_images_q(membership))


def access_image(membership: Membership, public_id: object) -> GalleryImage:
    return first_or_404(
        (
            images_for(membership)
            .select_related("generation__request__author", "team")
            .filter(public_id=parse_public_id(public_id))
        ),
        "image",
    )


def _from_generation(q: Q) -> Q:
    """``q`` written for GalleryImage, rewritten to filter Generation rows by their image."""
    rewritten = Q(_connector=q.connector, _negated=q.negated)
    for child in q.children:
        if isinstance(child, Q):
            rewritten.children.append(_from_generation(child))
        else:
            key, value = child  # type: ignore[misc]  # a (lookup, value) pair
            # image.generation is the generation itself: no need to join back to it.
            if key.startswith("generation__"):
                key = key.removeprefix("generation__")
            else:
                key = f"image__{key}"
            rewritten.children.append((key, value))
    return rewritten


def visible_generations_q(membership: Membership) -> Q:
    return Q(team_id=membership.team_id) & (
        Q(image__isnull=True) | _from_generation(visible_images_q(membership))
    )


def generations_for(membership: Membership) -> QuerySet[Generation]:
    return Generation.objects.filter(visible_generations_q(membership))


def access_gallery_item(membership: Membership, public_id: object) -> Generation:
    """A generation as the gallery shows it: in the team and, if it has an image, visible."""
    return first_or_404(
        (
            generations_for(membership)
            .select_related("request__author", "image")
            .filter(public_id=parse_public_id(public_id))
        ),
        "item",
    )


def gallery_items(membership: Membership, public_ids: list[str]) -> list[Generation]:
    """Several items by public id, each access-checked, in the order given; 404 if any is
    missing (so a forged id never goes unnoticed)."""
    wanted = [parse_public_id(value) for value in dict.fromkeys(public_ids)]
    found = {
        g.public_id: g
        for g in generations_for(membership)
        .filter(public_id__in=wanted)
        .select_related("request__author", "image")
        .prefetch_related("image__thumbnails")
    }
    if len(found) != len(wanted):
        raise Http404("No such item.")
    return [found[value] for value in wanted]
