"""Template helpers for gallery items: which image a tile shows and its content-hash URLs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import segno
from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from gallery.generation.models import GalleryImage, Generation
from gallery.media.models import Thumbnail
from gallery.media.renditions import by_width, grid_rendition

register = template.Library()


@register.filter
def item_image(generation: Generation) -> GalleryImage | None:
    """The generation's image, or None (in flight, failed, or not visible)."""
    try:
        return generation.image
    except GalleryImage.DoesNotExist:
        return None


def thumbnail_url(image: GalleryImage, thumbnail: Thumbnail) -> str:
    return reverse(
        "media-thumbnail",
        kwargs={"public_id": image.public_id, "sha256": thumbnail.sha256, "width": thumbnail.width},
    )


@dataclass(frozen=True)
class Picture:
    src: str
    srcset: str
    width: int
    height: int
    preview: str
    colour: str


@register.simple_tag
def picture(image: GalleryImage) -> Picture:
    """URLs and intrinsic size for an image's <img>: the grid thumbnail, a srcset of every
    rendition, and the largest one as the preview. Uses the prefetched thumbnails."""
    thumbs: list[Thumbnail] = by_width(image.thumbnails.all())
    if not thumbs:  # an image stored without thumbnails: fall back to the original
        original = reverse("media-original", args=[image.public_id])
        return Picture(original, "", image.width, image.height, original, image.average_color)
    grid = grid_rendition(thumbs)
    return Picture(
        src=thumbnail_url(image, grid),
        srcset=", ".join(f"{thumbnail_url(image, t)} {t.width}w" for t in thumbs),
        width=grid.width,
        height=grid.height,
        preview=thumbnail_url(image, thumbs[-1]),
        colour=image.average_color or "#1c1d21",
    )


@register.filter
def money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    if value >= Decimal("0.01") and value == value.quantize(Decimal("0.01")):
        return f"${value.quantize(Decimal('0.01'))}"
    return f"${value.normalize()}"


@register.filter
def param(value: object) -> str:
    """A request parameter as a person reads it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


@register.filter
def qr_svg(url: str) -> SafeString:
    """``url`` as an inline SVG QR code (segno: pure Python, no image files, no scripts)."""
    code = segno.make(url, error="m", micro=False)
    svg = code.svg_inline(
        scale=4, border=2, dark="#000", light="#fff", svgclass="qr-code", lineclass=None
    )
    return mark_safe(svg)  # noqa: S308 (segno's own markup; the URL only sets the modules)


@register.filter
def get_item(mapping: dict[object, object], key: object) -> object:
    """``mapping[key]``, or an empty list when it has none (for grouped rows)."""
    return mapping.get(key, [])
