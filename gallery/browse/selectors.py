"""Reads for the gallery grid: filters, keyset pages, one tile, neighbours.

The grid lists generations, not images, so that in-flight and failed ones appear beside
the finished ones. A generation with an image is shown only when the image is visible
under the team's review policy (``gallery.browse.access``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.db import connection
from django.db.models import (
    Aggregate,
    CharField,
    Count,
    Exists,
    F,
    Func,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Concat
from django.http import Http404
from django.utils import timezone

from gallery.access import first_or_404, parse_public_id
from gallery.browse.access import generations_for
from gallery.browse.models import Favourite
from gallery.generation.models import GalleryImage, Generation
from gallery.media.models import Thumbnail
from gallery.team.models import Membership

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
    "updated_at",
    "last_error",
    "upstream_status",  # result_billed: a failed tile says "Download failed" (issue 15: no N+1)
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
    "image__placeholder",
    "image__review_state",
    "image__format",
    "image__sha256",
)


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
    rows = _unpacked(list(_tiles(queryset, user_id).order_by("-created_at", "-id")[: size + 1]))
    more = len(rows) > size
    items: list[Generation] = list(rows[:size])
    next_cursor = Cursor(items[-1].created_at, items[-1].pk).encode() if more and items else None
    return GalleryPage(items=items, next_cursor=next_cursor)


@dataclass(frozen=True, slots=True)
class Rendition:
    """What a tile reads of a thumbnail (a model instance per rendition costs ~4x as much)."""

    width: int
    height: int
    sha256: str


class _PackedRenditions(Aggregate):
    """Every rendition of an image as one string, ``"width:height:sha256,…"``, so a page's
    thumbnails come in its one row query instead of a prefetch (issue 15)."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ',')"
    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="GROUP_CONCAT", **extra)


def _packed_renditions() -> Subquery:
    packed = Concat(
        Cast("width", CharField()),
        Value(":"),
        Cast("height", CharField()),
        Value(":"),
        "sha256",
        output_field=CharField(),
    )
    return Subquery(
        Thumbnail.objects.filter(image_id=OuterRef("image__id"))
        .order_by()
        .values("image_id")
        .annotate(packed=_PackedRenditions(packed))
        .values("packed")[:1],
        output_field=CharField(),
    )


def _tiles(queryset: QuerySet[Generation], user_id: int) -> QuerySet[Generation]:
    """Rows as a tile shows them: request, author and image joined, only the columns a tile
    reads, the viewer's favourite flag and the image's renditions (packed in a subquery;
    ``_unpacked`` puts them where ``image.thumbnails.all()`` finds them)."""
    return (
        queryset.select_related("request__author", "image")
        .only(*TILE_FIELDS)
        .annotate(
            is_favourite=Exists(
                Favourite.objects.filter(user_id=user_id, image_id=OuterRef("image__id"))
            ),
            renditions_packed=_packed_renditions(),
        )
    )


def _unpacked(rows: list[Generation]) -> list[Generation]:
    """Each row's image gets its renditions as a prefetch would leave them (Django's own
    prefetch cache: a queryset whose results are already there), so ``thumbnails.all()`` on
    a tile's image costs no query."""
    for row in rows:
        image = row._state.fields_cache.get("image")
        if image is None:
            continue
        thumbnails = []
        for part in filter(None, (getattr(row, "renditions_packed", "") or "").split(",")):
            width, height, sha256 = part.split(":")
            thumbnails.append(Rendition(int(width), int(height), sha256))
        thumbnails.sort(key=lambda t: t.width)
        cached: QuerySet[Thumbnail] = QuerySet(model=Thumbnail)  # never run: results below
        cached._result_cache = thumbnails  # type: ignore[assignment]  # read as thumbnails
        cached._prefetch_done = True  # type: ignore[attr-defined]
        image._prefetched_objects_cache = {"thumbnails": cached}
    return rows


def gallery_tile(membership: Membership, public_id: object) -> Generation:
    """One tile, read the way ``gallery_page`` reads it (after Retry or Cancel)."""
    tile = first_or_404(
        _tiles(
            generations_for(membership).filter(public_id=parse_public_id(public_id)),
            membership.user_id,
        ),
        "item",
    )
    return _unpacked([tile])[0]


# -- live updates --------------------------------------------------------------------------------
#
# Open pages poll a conditional GET (``If-None-Match``) every few seconds. The version below is
# one indexed aggregate over the team's rows touched in the last LIVE_WINDOW: while nothing
# changes it stays the same and the poll answers 304 without reading a tile. Any write to a
# generation (a new one, every status move, an error) sets ``updated_at``; a row that commits
# a little after its timestamp still changes the count inside the window, so a late commit is
# not missed. ``gallery_changes`` then sends the tiles touched since the page's last answer,
# LIVE_OVERLAP earlier for the same reason; the page ignores a tile it already has.

LIVE_WINDOW = timedelta(minutes=2)
LIVE_OVERLAP = timedelta(seconds=30)
LIVE_MAX_TILES = 60


def live_version(membership: Membership) -> str:
    """The version of the team's gallery, for conditional polls (an ETag)."""
    recent = Generation.objects.filter(
        team_id=membership.team_id, updated_at__gte=timezone.now() - LIVE_WINDOW
    ).aggregate(touched=Count("id"), latest=Max("updated_at"))
    latest = recent["latest"]
    return f"{recent['touched']}.{latest.timestamp():.6f}" if latest else "0"


def gallery_changes(
    membership: Membership, *, filters: GalleryFilters, since: datetime
) -> list[Generation]:
    """The visible tiles (under ``filters``) touched since ``since``, oldest first, at most
    LIVE_MAX_TILES of the latest."""
    queryset = gallery_filter(generations_for(membership), filters, membership.user_id).filter(
        updated_at__gte=since - LIVE_OVERLAP
    )
    rows = _unpacked(
        list(_tiles(queryset, membership.user_id).order_by("-updated_at")[:LIVE_MAX_TILES])
    )
    return sorted(rows, key=lambda g: (g.created_at, g.pk))


def item_version(status: str, updated_at: datetime, review_state: str | None) -> str:
    """The version of one item's detail page: its status, last write and review state."""
    return f"{status}.{updated_at.timestamp():.6f}.{review_state or '-'}"


def gallery_item_version(membership: Membership, public_id: object) -> str:
    """``item_version`` of an item the member may see, in one query; 404 otherwise."""
    row = (
        generations_for(membership)
        .filter(public_id=parse_public_id(public_id))
        .values_list("status", "updated_at", "image__review_state")
        .first()
    )
    if row is None:
        raise Http404("No such item.")
    return item_version(*row)


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
