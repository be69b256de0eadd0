"""Collection writes: make, rename, delete; add, remove and reorder images."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import Max

from gallery.collection.models import Collection, CollectionItem
from gallery.errors import ApplicationError
from gallery.generation.models import GalleryImage
from gallery.team.models import Membership

MAX_ITEMS = 500  # per collection
NAME_MAX_CHARS = 100
DESCRIPTION_MAX_CHARS = 2000


class CollectionError(ApplicationError):
    """A change to a collection that cannot be made; the message is for the person."""


def _may_edit(membership: Membership, collection: Collection | None = None) -> None:
    if not membership.can_generate:
        raise CollectionError("Viewers cannot change collections.")
    if collection is not None and collection.team_id != membership.team_id:
        raise CollectionError("That collection belongs to another team.")


def _clean(name: str, description: str) -> tuple[str, str]:
    name, description = name.strip(), description.strip()
    if not name:
        raise CollectionError("Give the collection a name.", field="name")
    if len(name) > NAME_MAX_CHARS:
        raise CollectionError(f"Keep the name under {NAME_MAX_CHARS} characters.", field="name")
    if len(description) > DESCRIPTION_MAX_CHARS:
        raise CollectionError(
            f"Keep the description under {DESCRIPTION_MAX_CHARS} characters.", field="description"
        )
    return name, description


@transaction.atomic
def collection_create(*, membership: Membership, name: str, description: str = "") -> Collection:
    _may_edit(membership)
    name, description = _clean(name, description)
    collection = Collection(
        team=membership.team, name=name, description=description, created_by=membership.user
    )
    collection.full_clean()
    collection.save()
    return collection


@transaction.atomic
def collection_update(
    *,
    membership: Membership,
    collection: Collection,
    name: str,
    description: str,
    cover: GalleryImage | None,
) -> Collection:
    """Rename, describe and choose the cover (None: the first image) of ``collection``."""
    _may_edit(membership, collection)
    name, description = _clean(name, description)
    if cover is not None and not collection.items.filter(image=cover).exists():
        raise CollectionError("The cover must be one of the collection's images.", field="cover")
    collection.name, collection.description, collection.cover = name, description, cover
    collection.full_clean()
    collection.save(update_fields=["name", "description", "cover", "updated_at"])
    return collection


@transaction.atomic
def collection_delete(*, membership: Membership, collection: Collection) -> None:
    """Delete the collection (its images stay in the gallery); owners and admins only."""
    if not membership.can_manage or collection.team_id != membership.team_id:
        raise CollectionError("Only team owners and admins can delete collections.")
    collection.delete()


def _locked(collection: Collection) -> Collection:
    """The collection's row, locked: adds and reorders of one collection take turns."""
    return Collection.objects.select_for_update().get(pk=collection.pk)


@transaction.atomic
def collection_add(
    *, membership: Membership, collection: Collection, images: Sequence[GalleryImage]
) -> int:
    """Add (access-checked) images at the end, in the order given; those already in it stay
    where they are. Returns how many were added."""
    _may_edit(membership, collection)
    if any(image.team_id != collection.team_id for image in images):
        raise CollectionError("Only this team's images can be collected.")
    _locked(collection)
    present = set(collection.items.values_list("image_id", flat=True))
    new = list({image.pk: image for image in images if image.pk not in present}.values())
    if len(present) + len(new) > MAX_ITEMS:
        raise CollectionError(f"A collection can hold at most {MAX_ITEMS} images.")
    start = collection.items.aggregate(last=Max("position"))["last"] or 0
    CollectionItem.objects.bulk_create(
        CollectionItem(
            collection=collection, image=image, position=start + offset, added_by=membership.user
        )
        for offset, image in enumerate(new, start=1)
    )
    if new:
        collection.save(update_fields=["updated_at"])
    return len(new)


@transaction.atomic
def collection_remove(
    *, membership: Membership, collection: Collection, images: Sequence[GalleryImage]
) -> int:
    """Take images out of the collection (they stay in the gallery)."""
    _may_edit(membership, collection)
    removed, _ = collection.items.filter(image__in=[image.pk for image in images]).delete()
    if removed:
        if collection.cover_id in {image.pk for image in images}:
            collection.cover = None
        collection.save(update_fields=["cover", "updated_at"])
    return removed


@transaction.atomic
def collection_move(
    *,
    membership: Membership,
    collection: Collection,
    image: GalleryImage,
    before: GalleryImage | None = None,
    step: int | None = None,
) -> int:
    """Move ``image`` within the collection: by ``step`` places (-1 up, 1 down: the buttons),
    or in front of ``before`` (None: to the end; a drop). Positions are renumbered 1..n.
    Returns the image's new (1-based) place."""
    _may_edit(membership, collection)
    _locked(collection)
    items = list(collection.items.order_by("position", "id"))
    index = next((i for i, item in enumerate(items) if item.image_id == image.pk), None)
    if index is None:
        raise CollectionError("That image is not in this collection.")
    moving = items.pop(index)
    if step is not None:
        target = max(0, min(len(items), index + step))
    elif before is None:
        target = len(items)
    else:
        found = next((i for i, item in enumerate(items) if item.image_id == before.pk), None)
        if found is None:
            raise CollectionError("Drop it on an image of this collection.")
        target = found
    items.insert(target, moving)
    changed = []
    for position, item in enumerate(items, start=1):
        if item.position != position:
            item.position = position
            changed.append(item)
    CollectionItem.objects.bulk_update(changed, ["position"])
    if changed:
        collection.save(update_fields=["updated_at"])
    return target + 1
