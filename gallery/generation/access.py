"""Access to generations, requests and references (see ``gallery.access`` for the pattern)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from gallery.access import first_or_404, parse_public_id
from gallery.browse.access import visible_generations_q
from gallery.generation.models import Generation, GenerationRequest, Reference
from gallery.team.models import Membership


def access_generation(membership: Membership, public_id: object) -> Generation:
    return first_or_404(
        (
            Generation.objects.filter(
                team_id=membership.team_id, public_id=parse_public_id(public_id)
            ).select_related("request__author")
        ),
        "generation",
    )


def access_request(membership: Membership, public_id: object) -> GenerationRequest:
    """A request of the team that the member may see: their own, or one with at least one
    generation the gallery shows them (so a request whose images the review policy hides
    cannot be read through Remix or made again through Re-run)."""
    shown = Generation.objects.filter(visible_generations_q(membership), request=OuterRef("pk"))
    return first_or_404(
        GenerationRequest.objects.filter(
            team_id=membership.team_id, public_id=parse_public_id(public_id)
        ).filter(Q(author_id=membership.user_id) | Exists(shown)),
        "request",
    )


def access_reference(membership: Membership, public_id: object) -> Reference:
    return first_or_404(
        Reference.objects.filter(team_id=membership.team_id, public_id=parse_public_id(public_id)),
        "reference",
    )
