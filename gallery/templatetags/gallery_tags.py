"""Template helpers for gallery items: which image a tile shows and its content-hash URLs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache as cache_once

import segno
from django import template
from django.core.cache import cache
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.context import Context
from django.template.loader import get_template
from django.urls import get_script_prefix, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from gallery.browse.selectors import Rendition, TileRow
from gallery.generation.models import GalleryImage, Generation
from gallery.media import signed
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
    """The ``media-thumbnail`` URL, formatted without ``reverse()`` (a page has ~180 of them;
    ``tests/gallery/test_perf_pages.py`` checks it against ``reverse``)."""
    return (
        f"{get_script_prefix()}media/t/{image.public_id}/{thumbnail.sha256}-{thumbnail.width}.webp"
    )


@dataclass(frozen=True)
class Picture:
    src: str
    srcset: str
    width: int
    height: int
    preview: str
    colour: str


@register.simple_tag(takes_context=True)
def picture(context: Context, image: GalleryImage) -> Picture:
    """URLs and intrinsic size for an image's <img>: the grid thumbnail, a srcset of every
    rendition, and the largest one as the preview. Uses the prefetched thumbnails.

    On a team's own pages (``membership`` in the context, the image in its team) the URLs are
    signed ones (``gallery.media.signed``): the page has checked access, the thumbnails are
    then served without a session or a query. Elsewhere they are the access-checked view's."""
    thumbs: list[Thumbnail] = by_width(image.thumbnails.all())
    if not thumbs:  # an image stored without thumbnails: fall back to the original
        original = reverse("media-original", args=[image.public_id])
        return Picture(original, "", image.width, image.height, original, image.average_color)
    membership = context.get("membership")
    team = membership.team if membership and membership.team_id == image.team_id else None

    def url(thumbnail: Thumbnail) -> str:
        if team is not None:
            return signed.thumbnail_url(str(team.public_id), thumbnail.sha256, thumbnail.width)
        return thumbnail_url(image, thumbnail)

    grid = grid_rendition(thumbs)
    return Picture(
        src=url(grid),
        srcset=", ".join(f"{url(t)} {t.width}w" for t in thumbs),
        width=grid.width,
        height=grid.height,
        preview=url(thumbs[-1]),
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


# -- Finished tiles from the cache (issue 15) ----------------------------------------------------
#
# A finished tile's HTML is cached under a key made of everything that can change on it: the
# row's last write (status, error, cost, a new rendition all set ``updated_at``), the image's
# review state and renditions, the viewer's favourite flag and whether the viewer may generate
# (the Share/Remix/Retry buttons), the day of the signed thumbnail URLs' expiry, plus a digest
# of the template. The two per-request values in
# it (the CSRF token and the page a favourite returns to) are stored as markers and put in
# place on the way out. Tiles still in flight change every few seconds: rendered every time.

TILE_TEMPLATE = "browse/grid.html#tile"
TILE_TTL = 24 * 60 * 60
_CSRF_MARK = "@@tile-csrf@@"
_NEXT_MARK = "@@tile-next@@"


@cache_once
def _tile_template_version() -> str:
    template = get_template("browse/grid.html")
    origin = template.origin.name  # type: ignore[attr-defined]
    with open(origin, "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()[:12]


def tile_key(item: Generation | TileRow, can_generate: bool) -> str | None:
    """The cache key of a finished tile's HTML; None for a tile still in flight."""
    memo: dict[bool, str | None] = (
        item._tile_keys if isinstance(item, TileRow) else item.__dict__.setdefault("_tile_keys", {})
    )
    if can_generate not in memo:
        memo[can_generate] = _tile_key(item, can_generate)
    return memo[can_generate]


def _tile_key(item: Generation | TileRow, can_generate: bool) -> str | None:
    if not item.is_terminal:
        return None
    thumbnails: Sequence[Thumbnail | Rendition]
    if isinstance(item, TileRow):
        review = item.review_state  # None: no image
        thumbnails = item.renditions if review is not None else []
    else:
        image = item_image(item)
        review = image.review_state if image is not None else None
        thumbnails = list(image.thumbnails.all()) if image is not None else []
    renditions = ",".join(f"{t.width}{t.sha256[:8]}" for t in thumbnails)
    favourite = int(bool(getattr(item, "is_favourite", False)))
    digest = hashlib.sha256(
        f"{item.updated_at.timestamp():.6f}|{review or '-'}|{renditions}|{favourite}|"
        f"{int(can_generate)}|{signed.expiry()}".encode()
    ).hexdigest()[:24]
    return f"tile:{_tile_template_version()}:{item.public_id}:{digest}"


def tiles_prefetch(
    request: HttpRequest, items: Sequence[Generation | TileRow], can_generate: bool
) -> None:
    """Read the cached HTML of a page's finished tiles in one round trip (``{% tile %}`` uses
    it; a tile not found is rendered and stored)."""
    keys = [key for g in items if (key := tile_key(g, can_generate)) is not None]
    request._tile_html = cache.get_many(keys) if keys else {}  # type: ignore[attr-defined]


@register.simple_tag(takes_context=True)
def tile(context: Context, item: Generation | TileRow) -> SafeString:
    """One grid tile: from the cache when it is finished and was rendered before. A tile read
    as values (``TileRow``) gets its model instances only when it is rendered."""
    return tiles(context, [item])


@register.simple_tag(takes_context=True)
def tiles(context: Context, items: Sequence[Generation | TileRow]) -> SafeString:
    """Every tile of a page, as ``{% tile %}`` renders each, in one call (the template loop
    and a tag dispatch per tile cost ~1.5 ms of a page of 60 cached tiles; issue 15)."""
    request = context["request"]
    membership = context.get("membership")
    can_generate = bool(membership and membership.can_generate)
    prefetched: dict[str, str] | None = getattr(request, "_tile_html", None)
    html = []
    for item in items:
        key = tile_key(item, can_generate)
        if key is None:  # in flight: rendered every time, with the request's own values
            html.append(_tile_render(context, item))
            continue
        cached = prefetched.get(key) if prefetched is not None else cache.get(key)
        if cached is None:
            cached = _tile_render(context, item, csrf_token=_CSRF_MARK, tile_next=_NEXT_MARK)
            cache.set(key, cached, TILE_TTL)
        token, path = _marks(request)
        html.append(cached.replace(_CSRF_MARK, token).replace(_NEXT_MARK, path))
    return mark_safe("".join(html))  # noqa: S308 (templates' autoescaped output, markers replaced)


def _tile_render(context: Context, item: Generation | TileRow, **marks: str) -> str:
    """A tile rendered from its model instances (built now for a ``TileRow``)."""
    partial = get_template(TILE_TEMPLATE).template  # type: ignore[attr-defined]
    generation = item.generation() if isinstance(item, TileRow) else item
    with context.push(g=generation, **marks):
        html: str = partial.render(context)
    return html


def _marks(request: HttpRequest) -> tuple[str, str]:
    """What a cached tile's markers stand for: the request's CSRF token and its path (read
    once per request, not once per tile)."""
    marks: tuple[str, str] | None = getattr(request, "_tile_marks", None)
    if marks is None:
        marks = (get_token(request), escape(request.get_full_path()))
        request._tile_marks = marks  # type: ignore[attr-defined]
    return marks


@register.filter
def get_item(mapping: dict[object, object], key: object) -> object:
    """``mapping[key]``, or an empty list when it has none (for grouped rows)."""
    return mapping.get(key, [])
