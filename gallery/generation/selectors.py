"""Generation reads: the team's reference library, and a generation by its upstream id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Count

from gallery.generation.models import Reference
from gallery.team.models import Membership

LIBRARY_PAGE = 24


@dataclass(frozen=True)
class LibraryPage:
    references: list[Reference]
    query: str
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def reference_library(membership: Membership, *, query: str = "", page: int = 1) -> LibraryPage:
    """One page of the team's reference library, newest first, searched by file name."""
    # A NUL byte cannot be in a file name, and PostgreSQL refuses one in a query: drop it.
    query = query.replace("\x00", "").strip()[:100]
    references = (
        Reference.objects.filter(team_id=membership.team_id)
        .only("public_id", "original_name", "sha256", "width", "height", "created_at")
        .annotate(use_count=Count("requests"))
    )
    if query:
        references = references.filter(original_name__icontains=query)
    start = (page - 1) * LIBRARY_PAGE
    rows: list[Reference] = list(
        references.order_by("-created_at", "-id")[start : start + LIBRARY_PAGE + 1]
    )
    return LibraryPage(
        references=rows[:LIBRARY_PAGE], query=query, page=page, has_next=len(rows) > LIBRARY_PAGE
    )


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
