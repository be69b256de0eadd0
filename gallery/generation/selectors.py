"""Generation reads: the team's reference library, and a generation by its upstream id."""

from __future__ import annotations

import uuid

from gallery.generation.models import Generation, Reference
from gallery.team.models import Membership


def team_references(membership: Membership, *, limit: int = 48) -> list[Reference]:
    """The team's reference library, newest first."""
    return list(Reference.objects.filter(team_id=membership.team_id)[:limit])


def references_in_order(membership: Membership, public_ids: list[str]) -> list[Reference]:
    """The team's references with these public ids, in the order given, a repeated id as
    often as it is given (the caller de-duplicates, saying so: ``create.references_deduplicated``);
    unknown ids (or another team's) are dropped."""
    wanted = []
    for value in public_ids:
        try:
            wanted.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    found = {
        r.public_id: r
        for r in Reference.objects.filter(team_id=membership.team_id, public_id__in=set(wanted))
    }
    return [found[value] for value in wanted if value in found]


def generation_id_for_upstream(upstream_id: str) -> int | None:
    """Our row for Oxen's generation id, or None (not ours: another app using the same key)."""
    pk: int | None = (
        Generation.objects.filter(upstream_id=upstream_id).values_list("pk", flat=True).first()
    )
    return pk
