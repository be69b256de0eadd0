"""Reads, and the access checks every view goes through.

Each ``access_*`` function takes the requesting membership and a public id and returns the
object only if it belongs to that membership's team and the person may see it; anything else
(another team's id, a malformed id, a hidden image) is a 404, never a 403 that would confirm the
id exists.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.http import Http404

from gallery.models import GalleryImage, Generation, GenerationRequest, Membership, Reference


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404("No such item.") from None


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
    image = (
        images_for(membership)
        .select_related("generation__request__author", "team")
        .filter(public_id=_uuid(public_id))
        .first()
    )
    if image is None:
        raise Http404("No such image.")
    return image


def access_generation(membership: Membership, public_id: object) -> Generation:
    generation = (
        Generation.objects.filter(team_id=membership.team_id, public_id=_uuid(public_id))
        .select_related("request__author")
        .first()
    )
    if generation is None:
        raise Http404("No such generation.")
    return generation


def access_request(membership: Membership, public_id: object) -> GenerationRequest:
    request = GenerationRequest.objects.filter(
        team_id=membership.team_id, public_id=_uuid(public_id)
    ).first()
    if request is None:
        raise Http404("No such request.")
    return request


def access_reference(membership: Membership, public_id: object) -> Reference:
    reference = Reference.objects.filter(
        team_id=membership.team_id, public_id=_uuid(public_id)
    ).first()
    if reference is None:
        raise Http404("No such reference.")
    return reference
