"""Access to generations, requests and references (see ``gallery.access`` for the pattern)."""

from __future__ import annotations

from gallery.access import first_or_404, parse_public_id
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
    return first_or_404(
        GenerationRequest.objects.filter(
            team_id=membership.team_id, public_id=parse_public_id(public_id)
        ),
        "request",
    )


def access_reference(membership: Membership, public_id: object) -> Reference:
    return first_or_404(
        Reference.objects.filter(team_id=membership.team_id, public_id=parse_public_id(public_id)),
        "reference",
    )
