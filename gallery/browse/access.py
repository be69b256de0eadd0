"""Access to the team's gallery: which images and generations a member may see, and the
checked lookups every view uses (see ``gallery.access`` for the pattern)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from gallery.access import first_or_404, parse_public_id
from gallery.generation.models import GalleryImage, Generation
from gallery.team.models import Membership


def _visible_q(membership: Membership, *, image: str, author: str) -> Q:
    """The review policy, written from any model: ``image`` is the path to the image ("" from
    GalleryImage itself), ``author`` the lookup of the request's author."""
    q = Q(**{f"{image}team_id": membership.team_id})
    if membership.can_manage or membership.user.is_staff:
        return q
    own = Q(**{author: membership.user_id})
    shown = Q(**{f"{image}review_state": GalleryImage.ReviewState.APPROVED})
    if membership.team.pending_visible_to_team:
        shown |= Q(**{f"{image}review_state": GalleryImage.ReviewState.PENDING})
    return q & (shown | own)


def visible_images_q(membership: Membership) -> Q:
    """Which of the team's images this member may see, under the team's review policy.

    Approved images are visible to everyone in the team. Pending and rejected images are
    visible to their author, the team's owners and admins and staff reviewers, and also to
    everyone when the team shows pending images to the whole team (rejected ones never are).
    """
    return _visible_q(membership, image="", author="generation__request__author_id")


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


def visible_generations_q(membership: Membership) -> Q:
    """The team's generations as the grid shows them: those without an image (in flight,
    failed) and those whose image is visible (the same policy, from the generation's side; the
    author is the generation's own request, with no join back from the image)."""
    return Q(team_id=membership.team_id) & (
        Q(image__isnull=True) | _visible_q(membership, image="image__", author="request__author_id")
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


def chosen_images(
    membership: Membership, image_ids: list[str], item_ids: list[str]
) -> tuple[list[GalleryImage], int]:
    """The images a form names, in the order chosen, each access-checked (404 if any is not
    the member's to see): ``image_ids`` (images, from the detail page, compare and review) and
    ``item_ids`` (gallery items, from the selection bar). Also returns how many of the items
    have no image yet (in flight or failed), which callers refuse in their own words."""
    images = [access_image(membership, value) for value in dict.fromkeys(image_ids)]
    missing = 0
    if item_ids:
        items = gallery_items(membership, item_ids)
        by_item = {
            image.generation_id: image
            for image in images_for(membership)
            .filter(generation__in=items)
            .select_related("generation__request__author", "team")
        }
        missing = len(items) - len(by_item)
        images += [by_item[item.pk] for item in items if item.pk in by_item]
    return list({image.pk: image for image in images}.values()), missing
