"""Reads, and the access checks every view goes through.

Each ``access_*`` function takes the requesting membership and a public id and returns the
object only if it belongs to that membership's team and the person may see it; anything else
(another team's id, a malformed id, a hidden image) is a 404, never a 403 that would confirm the
id exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import Exists, F, Func, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from gallery.models import (
    Favourite,
    GalleryImage,
    Generation,
    GenerationRequest,
    Membership,
    Reference,
    Thumbnail,
)


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


# -- the gallery grid ----------------------------------------------------------------------------
#
# The grid lists generations, not images, so that in-flight and failed ones appear beside the
# finished ones. A generation with an image is shown only when the image is visible under the
# team's review policy (``visible_images_q``, rewritten from the image's point of view).

PAGE_SIZE = 60
STATUS_FILTERS = {
    "in_flight": "In progress",
    "succeeded": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
# The columns a tile needs; everything else (transitions, request bodies, schemas) stays unread.
TILE_FIELDS = (
    "public_id",
    "status",
    "created_at",
    "last_error",
    "index",
    "team_id",
    "request__public_id",
    "request__prompt",
    "request__parameters",
    "request__author__username",
    "request__author__first_name",
    "request__author__last_name",
    "image__public_id",
    "image__width",
    "image__height",
    "image__average_color",
    "image__review_state",
    "image__format",
    "image__sha256",
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
    generation = (
        generations_for(membership)
        .select_related("request__author", "image")
        .filter(public_id=_uuid(public_id))
        .first()
    )
    if generation is None:
        raise Http404("No such item.")
    return generation


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the (created_at, id) of its last row, opaque to the browser."""

    created_at: datetime
    pk: int

    def encode(self) -> str:
        return f"{self.created_at.timestamp():.6f}_{self.pk}"

    @classmethod
    def decode(cls, value: str) -> Cursor | None:
        stamp, _, pk = value.partition("_")
        try:
            return cls(datetime.fromtimestamp(float(stamp), tz=UTC), int(pk))
        except (ValueError, OverflowError, OSError):
            return None


@dataclass(frozen=True)
class GalleryFilters:
    author: str = ""
    status: str = ""
    size: str = ""
    review: str = ""
    date_from: date | None = None
    date_to: date | None = None
    favourites: bool = False
    q: str = ""

    @property
    def active(self) -> bool:
        return any(
            (
                self.author,
                self.status,
                self.size,
                self.review,
                self.date_from,
                self.date_to,
                self.favourites,
                self.q,
            )
        )


@dataclass(frozen=True)
class GalleryPage:
    items: list[Generation]
    next_cursor: str | None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def prompt_search(queryset: QuerySet[Generation], text: str) -> QuerySet[Generation]:
    """Prompt search: PostgreSQL full-text search (``websearch`` syntax, English stemming,
    backed by the GIN index of migration 0003); elsewhere every word must appear in the
    prompt, case-insensitively."""
    text = text.strip()[:200]
    if not text:
        return queryset
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVectorField

        # Written out so it matches the index expression exactly (SearchVector adds COALESCE).
        vector = Func(
            F("request__prompt"),
            template="to_tsvector('english'::regconfig, %(expressions)s)",
            output_field=SearchVectorField(),
        )
        return queryset.annotate(prompt_vector=vector).filter(
            prompt_vector=SearchQuery(text, config="english", search_type="websearch")
        )
    for word in text.split()[:10]:
        queryset = queryset.filter(request__prompt__icontains=word)
    return queryset


def gallery_filter(
    queryset: QuerySet[Generation], filters: GalleryFilters, user_id: int
) -> QuerySet[Generation]:
    if filters.author:
        queryset = queryset.filter(request__author__username=filters.author)
    if filters.status == "in_flight":
        queryset = queryset.filter(status__in=Generation.IN_FLIGHT)
    elif filters.status in STATUS_FILTERS:
        queryset = queryset.filter(status=filters.status)
    if filters.size:
        queryset = queryset.filter(request__parameters__size=filters.size)
    if filters.review in GalleryImage.ReviewState.values:
        queryset = queryset.filter(image__review_state=filters.review)
    if filters.date_from:
        queryset = queryset.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        queryset = queryset.filter(created_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    if filters.favourites:
        queryset = queryset.filter(image__favourites__user_id=user_id)
    return prompt_search(queryset, filters.q)


def gallery_page(
    membership: Membership,
    *,
    filters: GalleryFilters | None = None,
    cursor: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> GalleryPage:
    """One page of the grid, newest first, in two queries whatever its depth: the rows (with
    their request, author, image and the viewer's favourite flag) and their thumbnails."""
    user_id = membership.user_id
    queryset = gallery_filter(generations_for(membership), filters or GalleryFilters(), user_id)
    if cursor is not None:
        # created_at__lte first: it lets SQLite seek the index instead of scanning it.
        queryset = queryset.filter(created_at__lte=cursor.created_at).filter(
            Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at, id__lt=cursor.pk)
        )
    rows = list(
        queryset.select_related("request__author", "image")
        .only(*TILE_FIELDS)
        .annotate(
            is_favourite=Exists(
                Favourite.objects.filter(user_id=user_id, image_id=OuterRef("image__id"))
            )
        )
        .prefetch_related(
            Prefetch(
                "image__thumbnails",
                queryset=Thumbnail.objects.only("image_id", "width", "height", "sha256"),
            )
        )
        .order_by("-created_at", "-id")[: size + 1]
    )
    more = len(rows) > size
    items: list[Generation] = list(rows[:size])
    next_cursor = Cursor(items[-1].created_at, items[-1].pk).encode() if more and items else None
    return GalleryPage(items=items, next_cursor=next_cursor)


def gallery_tile(membership: Membership, public_id: object) -> Generation:
    """One tile, read the way ``gallery_page`` reads it (for live status updates)."""
    generation = (
        generations_for(membership)
        .filter(public_id=_uuid(public_id))
        .select_related("request__author", "image")
        .only(*TILE_FIELDS)
        .annotate(
            is_favourite=Exists(
                Favourite.objects.filter(user_id=membership.user_id, image_id=OuterRef("image__id"))
            )
        )
        .prefetch_related("image__thumbnails")
        .first()
    )
    if generation is None:
        raise Http404("No such item.")
    return generation


@dataclass(frozen=True)
class Neighbours:
    newer: str | None
    older: str | None


def gallery_neighbours(membership: Membership, generation: Generation) -> Neighbours:
    """The public ids of the items before and after ``generation`` in the grid's order."""
    visible = generations_for(membership)
    t, pk = generation.created_at, generation.pk
    newer = (
        visible.filter(created_at__gte=t)
        .filter(Q(created_at__gt=t) | Q(created_at=t, id__gt=pk))
        .order_by("created_at", "id")
        .values_list("public_id", flat=True)
        .first()
    )
    older = (
        visible.filter(created_at__lte=t)
        .filter(Q(created_at__lt=t) | Q(created_at=t, id__lt=pk))
        .order_by("-created_at", "-id")
        .values_list("public_id", flat=True)
        .first()
    )
    return Neighbours(newer=str(newer) if newer else None, older=str(older) if older else None)


def gallery_items(membership: Membership, public_ids: list[str]) -> list[Generation]:
    """Several items by public id, each access-checked, in the order given; 404 if any is
    missing (so a forged id never goes unnoticed)."""
    wanted = [_uuid(value) for value in dict.fromkeys(public_ids)]
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


def team_members(membership: Membership) -> list[Membership]:
    return list(
        Membership.objects.filter(team_id=membership.team_id)
        .select_related("user")
        .order_by("user__username")
    )


def team_references(membership: Membership, *, limit: int = 48) -> list[Reference]:
    """The team's reference library, newest first."""
    return list(Reference.objects.filter(team_id=membership.team_id)[:limit])


def references_in_order(membership: Membership, public_ids: list[str]) -> list[Reference]:
    """The team's references with these public ids, in the order given; unknown ids (or
    another team's) are dropped, duplicates kept once."""
    wanted = []
    for value in public_ids:
        try:
            wanted.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    wanted = list(dict.fromkeys(wanted))
    found = {
        r.public_id: r
        for r in Reference.objects.filter(team_id=membership.team_id, public_id__in=wanted)
    }
    return [found[value] for value in wanted if value in found]
