"""Reads about collections: the team's list (with a cover and a count each), one
collection's grid (keyset pages in the collection's own order, the gallery's filters and
tiles), the collections an image is in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from gallery.browse.access import generations_for, images_for
from gallery.browse.selectors import (
    PAGE_SIZE,
    GalleryFilters,
    GalleryPage,
    gallery_filter,
    gallery_tiles,
    tiles_unpacked,
)
from gallery.collection.access import collections_for
from gallery.collection.models import Collection, CollectionItem
from gallery.generation.models import GalleryImage, Generation
from gallery.team.models import Membership


@dataclass(frozen=True)
class PositionCursor:
    """Where a collection page ends: the (position, item id) of its last row."""

    position: int
    item: int

    def encode(self) -> str:
        return f"{self.position}_{self.item}"

    @classmethod
    def decode(cls, value: str) -> PositionCursor | None:
        position, _, item = value.partition("_")
        try:
            return cls(int(position), int(item))
        except ValueError:
            return None


def collection_list(membership: Membership) -> list[Collection]:
    """The team's collections by name, each with ``item_count`` (the images this member may
    see) and ``cover_id`` (the public id of its cover: the chosen one if visible, else the
    first visible image in the collection's order; None when empty), in one query."""
    visible = images_for(membership)
    first = (
        visible.filter(collection_items__collection=OuterRef("pk"))
        .order_by("collection_items__position", "collection_items__id")
        .values("public_id")[:1]
    )
    chosen = visible.filter(pk=OuterRef("cover_id")).values("public_id")[:1]
    return list(
        collections_for(membership)
        .annotate(
            item_count=Count("items", filter=Q(items__image__in=visible.values("pk"))),
            cover_public_id=Coalesce(Subquery(chosen), Subquery(first)),
        )
        .order_by("name", "id")
    )


def collection_choices(membership: Membership, public_id: str) -> list[tuple[str, str]]:
    """(public id, name) of the team's collection ``public_id`` (none for another team's, a
    malformed id or ""), the one choice the gallery's "in collection" filter offers."""
    try:
        wanted = uuid.UUID(public_id)
    except ValueError:
        return []
    return [
        (str(found), name)
        for found, name in collections_for(membership)
        .filter(public_id=wanted)
        .values_list("public_id", "name")
    ]


def _in_collection(
    membership: Membership, collection: Collection, filters: GalleryFilters
) -> QuerySet[Generation]:
    # filter() then annotate(): the annotation reuses the filter's join to the item, so each
    # generation appears once, with its position in this collection.
    return gallery_filter(
        generations_for(membership).filter(image__collection_items__collection=collection),
        filters,
        membership.user_id,
    ).annotate(
        position=F("image__collection_items__position"),
        item_pk=F("image__collection_items__id"),
    )


def collection_page(
    membership: Membership,
    collection: Collection,
    *,
    filters: GalleryFilters | None = None,
    cursor: PositionCursor | None = None,
    size: int = PAGE_SIZE,
) -> GalleryPage:
    """One page of a collection's grid in the collection's order, read as the gallery reads
    its tiles: one query whatever the page's depth (renditions packed into the rows)."""
    queryset = _in_collection(membership, collection, filters or GalleryFilters())
    if cursor is not None:
        queryset = queryset.filter(
            Q(position__gt=cursor.position) | Q(position=cursor.position, item_pk__gt=cursor.item)
        )
    rows = tiles_unpacked(
        list(
            gallery_tiles(queryset, membership.user_id).order_by("position", "item_pk")[: size + 1]  # type: ignore[misc]
        )
    )
    items: list[Generation] = rows[:size]
    next_cursor = None
    if len(rows) > size and items:
        last = items[-1]
        next_cursor = PositionCursor(last.position, last.item_pk).encode()  # type: ignore[attr-defined]
    return GalleryPage(items=items, next_cursor=next_cursor)


def collection_images(collection: Collection) -> QuerySet[GalleryImage]:
    """The collection's images in its order (no visibility rule: callers apply theirs)."""
    return GalleryImage.objects.filter(collection_items__collection=collection).order_by(
        "collection_items__position", "collection_items__id"
    )


def image_collections(membership: Membership, image: GalleryImage) -> list[Collection]:
    """The team's collections holding ``image``, by name."""
    return list(collections_for(membership).filter(items__image=image).order_by("name", "id"))


def item_ids(collection: Collection) -> list[int]:
    """The collection's item ids in order."""
    return list(
        CollectionItem.objects.filter(collection=collection)
        .order_by("position", "id")
        .values_list("id", flat=True)
    )
