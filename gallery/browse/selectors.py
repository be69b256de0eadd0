"""Reads for the gallery grid: filters, keyset pages, one tile, neighbours.

The grid lists generations, not images, so that in-flight and failed ones appear beside
the finished ones. A generation with an image is shown only when the image is visible
under the team's review policy (``gallery.browse.access``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import (
    Aggregate,
    BooleanField,
    CharField,
    Count,
    Exists,
    Max,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Concat
from django.http import Http404
from django.utils import timezone

from gallery.access import first_or_404, parse_public_id
from gallery.accounts.models import User
from gallery.browse.access import generations_for
from gallery.browse.models import Favourite
from gallery.collection.models import CollectionItem
from gallery.generation.models import GalleryImage, Generation, GenerationRequest
from gallery.media.models import Thumbnail
from gallery.team.models import Membership

PAGE_SIZE = 60
STATUS_FILTERS = {
    "in_flight": "In progress",
    "succeeded": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "approval": "Needs approval",  # held by the team's approval threshold (gallery.budget)
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
    "image__team_id",  # signed thumbnail URLs name the team (issue 15)
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
    collection: str = ""  # a collection's public id (the form offers the team's own)

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
                self.collection,
            )
        )


@dataclass(frozen=True)
class GalleryPage:
    items: list[Generation]
    next_cursor: str | None


@dataclass(frozen=True)
class GridPage:
    """A page of the grid's HTML: its tiles as values (``TileRow``)."""

    items: list[TileRow]
    next_cursor: str | None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def prompt_search(
    queryset: QuerySet[Generation], text: str, *, team_id: int | None = None
) -> QuerySet[Generation]:
    """Prompt search: PostgreSQL full-text search (``websearch`` syntax, English stemming) on
    the stored ``prompt_tsv`` column of migration 0011; given the team, its matching requests
    come from the (team_id, prompt_tsv) GIN index first, so a word found only in the oldest
    prompts is not a walk of the whole table. Elsewhere every word must appear in the prompt,
    case-insensitively."""
    text = text.strip()[:200]
    if not text:
        return queryset
    if connection.vendor == "postgresql":
        matching = matching_requests(text, team_id)
        if _estimated_rows(matching) > SEARCH_SET_LIMIT:
            # A common word: the page's rows are among the newest, walked newest first.
            return queryset.filter(request_id__in=matching.values("pk"))
        # A rarer word (maybe only in old prompts, where a newest-first walk would read the
        # whole team): the matching requests first, from the GIN index, as one array; then
        # their generations by request, sorted. ``gallery_page`` runs it with seq scans off.
        sql, params = matching.values("pk").query.sql_with_params()
        in_array = f'"gallery_generation"."request_id" = ANY(ARRAY({sql}))'
        return queryset.filter(RawSQL(in_array, params, BooleanField()))  # noqa: S611 (compiled by Django, values as parameters)
    for word in text.split()[:10]:
        queryset = queryset.filter(request__prompt__icontains=word)
    return queryset


# Up to this many matching requests (as PostgreSQL estimates them), a search reads the
# matches first; beyond it, it walks the team's rows newest first (issue 15).
SEARCH_SET_LIMIT = 20_000


def _estimated_rows(queryset: QuerySet[Any]) -> float:
    """PostgreSQL's estimate of the rows ``queryset`` returns (planning only, no execution)."""
    plan = json.loads(queryset.explain(format="json"))
    return float(plan[0]["Plan"]["Plan Rows"])


@contextmanager
def search_plan(filters: GalleryFilters) -> Iterator[None]:
    """Around a search's query on PostgreSQL: no sequential scan of the requests (the planner
    prices the GIN bitmap of a few thousand matches above a scan of the whole table; the
    bitmap is ~2x faster there, and far faster on a large table)."""
    if not filters.q.strip() or connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        yield


def matching_requests(text: str, team_id: int | None) -> QuerySet[GenerationRequest]:
    """The requests (of the team, when given) whose prompt matches ``text`` (PostgreSQL)."""
    requests = GenerationRequest.objects.all()
    if team_id is not None:
        requests = requests.filter(team_id=team_id)
    return requests.alias(
        matched=RawSQL(
            "prompt_tsv @@ websearch_to_tsquery('english'::regconfig, %s)",
            (text,),
            output_field=BooleanField(),
        )
    ).filter(matched=True)


def gallery_filter(
    queryset: QuerySet[Generation],
    filters: GalleryFilters,
    user_id: int,
    *,
    team_id: int | None = None,
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
    if filters.collection:
        queryset = queryset.filter(
            Exists(
                CollectionItem.objects.filter(
                    image_id=OuterRef("image__id"), collection__public_id=filters.collection
                )
            )
        )
    return prompt_search(queryset, filters.q, team_id=team_id)


def _page_tiles(
    membership: Membership, filters: GalleryFilters, cursor: Cursor | None, size: int
) -> QuerySet[Generation]:
    """The query of one page of the grid (one row more than the page, to know if there is a
    next one), newest first."""
    queryset = gallery_filter(
        generations_for(membership), filters, membership.user_id, team_id=membership.team_id
    )
    if cursor is not None:
        # created_at__lte first: it lets SQLite seek the index instead of scanning it.
        queryset = queryset.filter(created_at__lte=cursor.created_at).filter(
            Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at, id__lt=cursor.pk)
        )
    return gallery_tiles(queryset, membership.user_id).order_by("-created_at", "-id")[: size + 1]


def gallery_page(
    membership: Membership,
    *,
    filters: GalleryFilters | None = None,
    cursor: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> GalleryPage:
    """One page of the grid, newest first, in one query whatever its depth: the rows (with
    their request, author, image, renditions and the viewer's favourite flag)."""
    filters = filters or GalleryFilters()
    with search_plan(filters):
        rows = tiles_unpacked(list(_page_tiles(membership, filters, cursor, size)))
    items, next_cursor = _paged(rows, size)
    return GalleryPage(items=items, next_cursor=next_cursor)


def gallery_grid_page(
    membership: Membership,
    *,
    filters: GalleryFilters | None = None,
    cursor: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> GridPage:
    """``gallery_page`` for the grid's HTML: the same query, read as ``TileRow`` values (a
    finished tile whose HTML is cached needs no model instance; issue 15)."""
    filters = filters or GalleryFilters()
    with search_plan(filters):
        rows = tile_rows(_page_tiles(membership, filters, cursor, size))
    items, next_cursor = _paged(rows, size)
    return GridPage(items=items, next_cursor=next_cursor)


def _paged[Row: (Generation, TileRow)](rows: list[Row], size: int) -> tuple[list[Row], str | None]:
    """The page's rows (one more was read) and the cursor of the next page, if any."""
    items = rows[:size]
    more = len(rows) > size and items
    return items, Cursor(items[-1].created_at, items[-1].pk).encode() if more else None


# -- the grid's rows as values (issue 15) --------------------------------------------------------
#
# A page of 60 finished tiles whose HTML is cached needs, per tile, only what its cache key is
# made of. Building four model instances per row (generation, request, author, image) and a
# renditions list made the rows query ~10 ms of CPU instead of ~6 (bench/bench_gallery.py), so
# the grid reads the same query as plain values and builds a tile's instances only when the
# tile must be rendered (in flight, or its HTML not in the cache).

# (lookup in the tile query, attribute on its model) for each model a tile reads.
_GENERATION_COLUMNS = (
    ("id", "id"),
    ("public_id", "public_id"),
    ("request_id", "request_id"),
    ("team_id", "team_id"),
    ("index", "index"),
    ("status", "status"),
    ("upstream_status", "upstream_status"),
    ("last_error", "last_error"),
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
)
_REQUEST_COLUMNS = (
    ("request__id", "id"),
    ("request__public_id", "public_id"),
    ("request__author_id", "author_id"),
    ("request__prompt", "prompt"),
    ("request__parameters", "parameters"),
)
_AUTHOR_COLUMNS = (
    ("request__author__id", "id"),
    ("request__author__username", "username"),
    ("request__author__first_name", "first_name"),
    ("request__author__last_name", "last_name"),
)
_IMAGE_COLUMNS = (
    ("image__id", "id"),
    ("image__public_id", "public_id"),
    ("image__team_id", "team_id"),
    ("image__generation_id", "generation_id"),
    ("image__width", "width"),
    ("image__height", "height"),
    ("image__average_color", "average_color"),
    ("image__placeholder", "placeholder"),
    ("image__review_state", "review_state"),
    ("image__format", "format"),
    ("image__sha256", "sha256"),
)
_ANNOTATIONS = ("is_favourite", "renditions_packed")
_ROW_LOOKUPS = (
    tuple(
        lookup
        for columns in (_GENERATION_COLUMNS, _REQUEST_COLUMNS, _AUTHOR_COLUMNS, _IMAGE_COLUMNS)
        for lookup, _ in columns
    )
    + _ANNOTATIONS
)
_AT = {lookup: position for position, lookup in enumerate(_ROW_LOOKUPS)}


def _instance[M: Model](
    model: type[M], columns: tuple[tuple[str, str], ...], row: tuple[Any, ...]
) -> M:
    """``model`` as the ORM would load it with only ``columns`` (``Model.from_db``: values in
    the model's field order, the others deferred)."""
    wanted = {attname: row[_AT[lookup]] for lookup, attname in columns}
    names = [f.attname for f in model._meta.concrete_fields if f.attname in wanted]
    return model.from_db(DEFAULT_DB_ALIAS, names, [wanted[name] for name in names])


class TileRow:
    """One grid tile as values: what its cache key and the page's cursor read, and the
    ``Generation`` (request, author, image and renditions as ``gallery_tiles`` loads them)
    built on first use, for a tile that must be rendered."""

    __slots__ = ("_generation", "_row", "_tile_keys")

    def __init__(self, row: tuple[Any, ...]) -> None:
        self._row = row
        self._generation: Generation | None = None
        self._tile_keys: dict[bool, str | None] = {}

    @property
    def pk(self) -> int:
        return int(self._row[_AT["id"]])

    @property
    def public_id(self) -> Any:
        return self._row[_AT["public_id"]]

    @property
    def status(self) -> str:
        return str(self._row[_AT["status"]])

    @property
    def is_terminal(self) -> bool:
        return self.status in Generation.TERMINAL

    @property
    def created_at(self) -> datetime:
        value: datetime = self._row[_AT["created_at"]]
        return value

    @property
    def updated_at(self) -> datetime:
        value: datetime = self._row[_AT["updated_at"]]
        return value

    @property
    def is_favourite(self) -> bool:
        return bool(self._row[_AT["is_favourite"]])

    @property
    def review_state(self) -> str | None:
        """The image's review state; None for a tile without an image."""
        if self._row[_AT["image__id"]] is None:
            return None
        return str(self._row[_AT["image__review_state"]])

    @property
    def renditions(self) -> list[Rendition]:
        return _renditions(self._row[_AT["renditions_packed"]])

    def generation(self) -> Generation:
        if self._generation is None:
            self._generation = self._build()
        return self._generation

    def _build(self) -> Generation:
        row = self._row
        generation = _instance(Generation, _GENERATION_COLUMNS, row)
        request = _instance(GenerationRequest, _REQUEST_COLUMNS, row)
        request._state.fields_cache["author"] = _instance(User, _AUTHOR_COLUMNS, row)
        generation._state.fields_cache["request"] = request
        image = None
        if row[_AT["image__id"]] is not None:
            image = _instance(GalleryImage, _IMAGE_COLUMNS, row)
            image._state.fields_cache["generation"] = generation
        generation._state.fields_cache["image"] = image
        for name in _ANNOTATIONS:
            setattr(generation, name, row[_AT[name]])
        return tiles_unpacked([generation])[0]


def tile_rows(queryset: QuerySet[Generation]) -> list[TileRow]:
    """A ``gallery_tiles`` query's rows as ``TileRow`` values."""
    return [TileRow(row) for row in queryset.values_list(*_ROW_LOOKUPS)]


def _renditions(packed: str | None) -> list[Rendition]:
    """The renditions of ``_packed_renditions``, smallest first."""
    thumbnails = []
    for part in filter(None, (packed or "").split(",")):
        width, height, sha256 = part.split(":")
        thumbnails.append(Rendition(int(width), int(height), sha256))
    thumbnails.sort(key=lambda t: t.width)
    return thumbnails


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


def gallery_tiles(queryset: QuerySet[Generation], user_id: int) -> QuerySet[Generation]:
    """Rows as a tile shows them: request, author and image joined, only the columns a tile
    reads, the viewer's favourite flag and the image's renditions (packed in a subquery;
    ``tiles_unpacked`` puts them where ``image.thumbnails.all()`` finds them)."""
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


def tiles_unpacked(rows: list[Generation]) -> list[Generation]:
    """Each row's image gets its renditions as a prefetch would leave them (Django's own
    prefetch cache: a queryset whose results are already there), so ``thumbnails.all()`` on
    a tile's image costs no query."""
    for row in rows:
        image = row._state.fields_cache.get("image")
        if image is None:
            continue
        thumbnails = _renditions(getattr(row, "renditions_packed", ""))
        cached: QuerySet[Thumbnail] = QuerySet(model=Thumbnail)  # never run: results below
        cached._result_cache = thumbnails  # type: ignore[assignment]  # read as thumbnails
        cached._prefetch_done = True  # type: ignore[attr-defined]
        image._prefetched_objects_cache = {"thumbnails": cached}
    return rows


def gallery_tile(membership: Membership, public_id: object) -> Generation:
    """One tile, read the way ``gallery_page`` reads it (after Retry or Cancel)."""
    tile = first_or_404(
        gallery_tiles(
            generations_for(membership).filter(public_id=parse_public_id(public_id)),
            membership.user_id,
        ),
        "item",
    )
    return tiles_unpacked([tile])[0]


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
    queryset = gallery_filter(
        generations_for(membership), filters, membership.user_id, team_id=membership.team_id
    ).filter(updated_at__gte=since - LIVE_OVERLAP)
    rows = tiles_unpacked(
        list(gallery_tiles(queryset, membership.user_id).order_by("-updated_at")[:LIVE_MAX_TILES])
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


# -- lineage -------------------------------------------------------------------------------------

LINEAGE_MAX = 12


@dataclass(frozen=True)
class Lineage:
    """Where an item came from and where it went, each as the member may see it."""

    made_from: list[Generation]  # gallery items this one's references were made from
    source: list[Generation]  # the items of the request this one remixes or re-runs
    remixes: list[Generation]  # items of requests that remix or re-run this one's
    used_by: list[Generation]  # items whose request used this image as a reference

    @property
    def any(self) -> bool:
        return bool(self.made_from or self.source or self.remixes or self.used_by)


def item_lineage(membership: Membership, generation: Generation) -> Lineage:
    """The item's lineage in four small queries, each under the team's visibility policy
    (``generations_for``) and with an image to show; at most LINEAGE_MAX of each."""
    shown = (
        generations_for(membership)
        .filter(image__isnull=False)
        .select_related("request", "image")
        .only("public_id", "index", "created_at", "request__prompt", "image__public_id")
    )
    request = generation.request
    made_from = list(
        shown.filter(image__references_made__requests=request)
        .exclude(pk=generation.pk)
        .distinct()
        .order_by("-created_at", "-id")[:LINEAGE_MAX]
    )
    source: list[Generation] = []
    if request.remix_of_id is not None:
        source = list(shown.filter(request_id=request.remix_of_id).order_by("index")[:LINEAGE_MAX])
    remixes = list(
        shown.filter(request__remix_of=request).order_by("-created_at", "-id")[:LINEAGE_MAX]
    )
    used_by: list[Generation] = []
    image = getattr(generation, "image", None)  # None in flight (the relation raises)
    if image is not None:
        used_by = list(
            shown.filter(request__references__source_image=image)
            .exclude(request=request)
            .distinct()
            .order_by("-created_at", "-id")[:LINEAGE_MAX]
        )
    return Lineage(made_from=made_from, source=source, remixes=remixes, used_by=used_by)
