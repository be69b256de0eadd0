"""Square thumbnails of reference images, for the team library and the detail page.

A reference is shown small and square (the library's grid, ``@ImageN`` chips) and never as its
original, which may be 4096 px. The thumbnail is made on the first request and kept under the
reference's content hash (wagtail's renditions: made once, then only read), so it costs one
decode per reference ever. References were verified and normalised (sRGB, no metadata, within
the pixel cap) when they were uploaded, so only a crop, a resize and a WebP encode remain.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from gallery.generation.models import Reference
from gallery.media.imaging import THUMBNAIL_WEBP_METHOD, THUMBNAIL_WEBP_QUALITY, content_name
from gallery.media.storage import media_storage, save_bytes_atomic

SIDE = 192  # CSS px 96 at 2x


def reference_thumbnail_name(reference: Reference) -> str:
    return f"reference-thumbs/{reference.team_id}/{content_name(reference.sha256, SIDE, 'webp')}"


def reference_thumbnail(reference: Reference) -> str:
    """The storage name of the reference's square WebP thumbnail, made now if it is missing."""
    name = reference_thumbnail_name(reference)
    if media_storage().exists(name):
        return name
    with media_storage().open(reference.file.name or "", "rb") as handle, Image.open(handle) as im:
        im.draft("RGB", (SIDE, SIDE))  # JPEG: DCT-scaled decode, at least SIDE on each side
        square = ImageOps.fit(im.convert("RGB"), (SIDE, SIDE), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    square.save(out, "WEBP", quality=THUMBNAIL_WEBP_QUALITY, method=THUMBNAIL_WEBP_METHOD)
    return save_bytes_atomic(name, out.getvalue())
