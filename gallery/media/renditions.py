"""Renditions: the widths every result is stored at, and which stored file each use shows.

One place names them (wagtail's renditions, by spec): ingest makes a WebP thumbnail at each of
``THUMBNAIL_WIDTHS`` (never wider than the original); a grid tile loads the first one at least
``GRID_WIDTH`` wide; the ``thumb`` variant is the smallest, ``preview`` the largest and
``download`` the original. Nothing here reads settings or the database: it picks among the
renditions an image already has (prefetched, so a page of tiles costs no extra query).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, Protocol

from seedream.mediatypes import mime_type

if TYPE_CHECKING:
    from gallery.generation.models import GalleryImage
    from gallery.media.models import Thumbnail

THUMBNAIL_WIDTHS = (400, 800, 1600)
# Ingest makes the grid's first rendition at once, from one decode scaled for it; the wider
# ones (the grid's 2x srcset entry and the detail page's preview) are made next, together and
# from one decode, on a low-priority queue (issue 15). A burst of completions is visible in the
# grid after the cheapest work there is, and the wider renditions are the same bytes as before
# the split (``thumbnails_make`` at 800 and 1600 px, the 800 from the 1600).
EAGER_WIDTHS = (400,)
LATER_WIDTHS = (800, 1600)
PREVIEW_WIDTH = 1600
GRID_WIDTH = 400  # the thumbnail a grid tile loads first

type Variant = Literal["thumb", "preview", "download"]
VARIANTS: tuple[Variant, ...] = ("thumb", "preview", "download")


class HasWidth(Protocol):
    @property
    def width(self) -> int: ...


def by_width[T: HasWidth](renditions: Iterable[T]) -> list[T]:
    return sorted(renditions, key=lambda rendition: rendition.width)


def grid_rendition[T: HasWidth](renditions: Iterable[T]) -> T:
    """The rendition a grid tile shows: the narrowest at least ``GRID_WIDTH`` wide, else the
    widest there is. ``renditions`` must not be empty."""
    ordered = by_width(renditions)
    return next((r for r in ordered if r.width >= GRID_WIDTH), ordered[-1])


def image_rendition(
    image: GalleryImage, variant: Variant, *, max_width: int | None = None
) -> tuple[str, str]:
    """(storage name, content type) of one variant of an image.

    thumb: the smallest thumbnail; preview: the largest, or the largest at most ``max_width``
    wide when one is given; download: the original (also what an image stored without
    thumbnails shows, unless ``max_width`` is given: then LookupError, as the original would
    be larger). Uses the image's prefetched thumbnails.
    """
    thumbnails: list[Thumbnail] = by_width(image.thumbnails.all())
    if variant == "download" or not thumbnails:
        if max_width is not None and variant != "download":
            raise LookupError(f"no rendition of {image.public_id} within {max_width} px")
        return image.file.name or "", mime_type(image.format)
    if max_width is not None:
        thumbnails = [t for t in thumbnails if t.width <= max_width] or thumbnails[:1]
    chosen = thumbnails[0] if variant == "thumb" else thumbnails[-1]
    return chosen.file.name or "", mime_type("WEBP")
