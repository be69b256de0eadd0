"""Gallery writes: favourites, and acting on several items at once (delete, zip of originals)."""

from __future__ import annotations

import logging
import tempfile
import zipfile
from collections.abc import Sequence
from typing import IO

from django.core.files.storage import storages
from django.db import IntegrityError, transaction

from gallery.browse.models import Favourite
from gallery.errors import ApplicationError
from gallery.generation.models import GalleryImage, Generation, GenerationRequest
from gallery.media.models import Thumbnail
from gallery.team.models import Membership

logger = logging.getLogger(__name__)

MAX_ITEMS = 200


class BulkError(ApplicationError):
    """Something a person asked for that cannot be done; the message is for them."""


def deletable(membership: Membership, generation: Generation) -> bool:
    """Authors delete their own finished items; owners and admins any finished item."""
    if not membership.can_generate or not generation.is_terminal:
        return False
    return membership.can_manage or generation.request.author_id == membership.user_id


def gallery_delete(*, membership: Membership, generations: Sequence[Generation]) -> int:
    """Delete the given (access-checked) items and, after commit, the files no row uses any
    more. Refuses the whole batch if any item may not be deleted, so nothing half-happens."""
    if not generations:
        raise BulkError("Select at least one item.")
    if len(generations) > MAX_ITEMS:
        raise BulkError(f"Select at most {MAX_ITEMS} items at a time.")
    refused = [g for g in generations if not deletable(membership, g)]
    if refused:
        if any(not g.is_terminal for g in refused):
            raise BulkError("Cancel the items still in progress, or wait for them, first.")
        raise BulkError("You can delete your own images; ask an admin to delete others'.")
    ids = [g.pk for g in generations]
    with transaction.atomic():
        files = list(
            GalleryImage.objects.filter(generation_id__in=ids).values_list("file", flat=True)
        )
        files += list(
            Thumbnail.objects.filter(image__generation_id__in=ids).values_list("file", flat=True)
        )
        request_ids = {g.request_id for g in generations}
        Generation.objects.filter(pk__in=ids).delete()
        # A request with no generation left has nothing to show; references stay in the library.
        GenerationRequest.objects.filter(pk__in=request_ids, generations__isnull=True).delete()
        transaction.on_commit(lambda: _delete_unused_files(files))
    return len(ids)


def _delete_unused_files(names: list[str]) -> None:
    # Files are named by content hash, so another image may share one: keep it if so.
    used = set(GalleryImage.objects.filter(file__in=names).values_list("file", flat=True))
    used |= set(Thumbnail.objects.filter(file__in=names).values_list("file", flat=True))
    storage = storages["default"]
    for name in set(names) - used:
        try:
            storage.delete(name)
        except OSError as exc:  # a missing file is already gone; anything else is logged
            logger.warning("could not delete %s: %s", name, exc)


def originals_zip(generations: Sequence[Generation]) -> IO[bytes]:
    """A zip of the originals of the (access-checked) items that have one, spooled to disk
    past 16 MB. Images are stored, not deflated: JPEG and PNG do not compress further."""
    images = [g.image for g in generations if _image(g) is not None]
    if not images:
        raise BulkError("None of the selected items has an image yet.")
    if len(images) > MAX_ITEMS:
        raise BulkError(f"Select at most {MAX_ITEMS} items at a time.")
    storage = storages["default"]
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        for position, image in enumerate(images, start=1):
            name = f"{position:03d}-seedream-{image.public_id}.{image.extension}"
            with (
                storage.open(image.file.name or "", "rb") as source,
                archive.open(name, "w") as out,
            ):
                while chunk := source.read(1024 * 1024):
                    out.write(chunk)
    spool.seek(0)
    return spool


def _image(generation: Generation) -> GalleryImage | None:
    try:
        return generation.image
    except GalleryImage.DoesNotExist:
        return None


def favourite_set(*, membership: Membership, image: GalleryImage, on: bool) -> bool:
    """Mark or unmark ``image`` (already access-checked) for the member; returns the new state.

    Setting a state rather than toggling keeps a double-click or a retried request harmless.
    """
    if not on:
        Favourite.objects.filter(user_id=membership.user_id, image=image).delete()
        return False
    try:
        with transaction.atomic():
            Favourite.objects.get_or_create(user_id=membership.user_id, image=image)
    except IntegrityError:  # the same click arriving twice at once
        pass
    return True
