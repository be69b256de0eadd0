"""The API's images (``/api/v1/images``): the gallery's list (its selector and filters, only
finished images), one image with its full request, its original and thumbnail, and the
caller's favourite mark; under the same review policy as the pages (``browse.access``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from ninja import Field, Query, Router, Schema

from gallery.api.auth import require_scope
from gallery.api.models import Scope
from gallery.api.problems import ERRORS
from gallery.browse.access import access_image
from gallery.browse.selectors import Cursor, GalleryFilters, gallery_page
from gallery.browse.services import favourite_set
from gallery.errors import ApplicationError
from gallery.generation.models import GalleryImage, Generation
from gallery.media.views import ORIGINAL, media_response

router = Router(tags=["images"])

IMAGE_FILE = {
    "description": "The image file",
    "content": {
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/webp": {"schema": {"type": "string", "format": "binary"}},
    },
}


class ImageOut(Schema):
    id: str
    generation_id: str
    request_id: str
    prompt: str
    author: str | None
    review_state: str
    width: int
    height: int
    format: str
    sha256: str
    created_at: datetime
    original_url: str
    thumbnail_url: str


class ImagePage(Schema):
    items: list[ImageOut]
    next_cursor: str | None


class ReferenceRef(Schema):
    position: int
    id: str
    sha256: str


class ImageDetail(ImageOut):
    bytes: int
    favourite: bool
    model: str
    parameters: dict[str, Any]
    batch_size: int
    references: list[ReferenceRef]
    request_body: dict[str, Any]
    cost: Decimal | None
    generation_status: str
    finished_at: datetime | None


class ImageFilters(Schema):
    author: str = ""
    review: str = Field("", description="pending, approved or rejected")
    size: str = ""
    since: date | None = Field(None, description="Made on or after this day")
    until: date | None = Field(None, description="Made on or before this day")
    favourites: bool = False
    q: str = Field("", max_length=200)
    cursor: str = ""
    limit: int = Field(50, ge=1, le=100)


class FavouriteOut(Schema):
    id: str
    favourite: bool


def _urls(image_id: str) -> dict[str, str]:
    return {
        "original_url": f"/api/v1/images/{image_id}/original",
        "thumbnail_url": f"/api/v1/images/{image_id}/thumbnail",
    }


def image_out(generation: Generation, image: GalleryImage) -> ImageOut:
    request = generation.request
    return ImageOut(
        id=str(image.public_id),
        generation_id=str(generation.public_id),
        request_id=str(request.public_id),
        prompt=request.prompt,
        author=request.author.username if request.author else None,
        review_state=image.review_state,
        width=image.width,
        height=image.height,
        format=image.format,
        sha256=image.sha256,
        created_at=generation.created_at,
        **_urls(str(image.public_id)),
    )


@router.get("/images", response={200: ImagePage, **ERRORS})
def image_list(request: HttpRequest, filters: Query[ImageFilters]) -> ImagePage:
    """Finished images, newest first, with the gallery's filters (e.g. ``review=approved``
    and ``since=2026-01-01``); follow ``next_cursor`` for the next page."""
    membership = require_scope(request, Scope.READ)
    cursor = Cursor.decode(filters.cursor) if filters.cursor else None
    if filters.cursor and cursor is None:
        raise ApplicationError("Not a cursor this API gave out.", field="cursor")
    clean = {
        k: v.replace("\x00", "") for k, v in filters.model_dump().items() if isinstance(v, str)
    }
    page = gallery_page(
        membership,
        filters=GalleryFilters(
            author=clean["author"],
            status="succeeded",
            size=clean["size"],
            review=clean["review"],
            date_from=filters.since,
            date_to=filters.until,
            favourites=filters.favourites,
            q=clean["q"],
        ),
        cursor=cursor,
        size=filters.limit,
    )
    items = [image_out(g, g.image) for g in page.items if getattr(g, "image", None)]
    return ImagePage(items=items, next_cursor=page.next_cursor)


@router.get("/images/{image_id}", response={200: ImageDetail, **ERRORS})
def image_get(request: HttpRequest, image_id: str) -> ImageDetail:
    """One image with everything about the request that made it."""
    membership = require_scope(request, Scope.READ)
    image = access_image(membership, image_id)
    generation = image.generation
    made = generation.request
    brief = image_out(generation, image)
    return ImageDetail(
        **brief.model_dump(),
        bytes=image.bytes,
        favourite=image.favourites.filter(user_id=membership.user_id).exists(),
        model=made.model,
        parameters=dict(made.parameters),
        batch_size=made.batch_size,
        references=[
            ReferenceRef(
                position=link.position,
                id=str(link.reference.public_id),
                sha256=link.reference.sha256,
            )
            for link in made.reference_links.select_related("reference")
        ],
        request_body=dict(made.request_body),
        cost=generation.cost,
        generation_status=generation.status,
        finished_at=generation.finished_at,
    )


@router.get(
    "/images/{image_id}/original",
    response={**ERRORS},
    openapi_extra={"responses": {200: IMAGE_FILE}},
)
def image_original(request: HttpRequest, image_id: str) -> HttpResponseBase:
    """The original file as Oxen made it (its SHA-256 is the image's ``sha256``)."""
    image = access_image(require_scope(request, Scope.READ), image_id)
    return media_response(image, "download", cache_control=ORIGINAL)


@router.get(
    "/images/{image_id}/thumbnail",
    response={**ERRORS},
    openapi_extra={"responses": {200: IMAGE_FILE}},
)
def image_thumbnail(request: HttpRequest, image_id: str) -> HttpResponseBase:
    """The smallest thumbnail (the original while none has been made)."""
    image = access_image(require_scope(request, Scope.READ), image_id)
    return media_response(image, "thumb")


@router.put("/images/{image_id}/favourite", response={200: FavouriteOut, **ERRORS})
def image_favourite(request: HttpRequest, image_id: str) -> FavouriteOut:
    """Mark the image as one of your favourites (setting, not toggling: safe to repeat)."""
    membership = require_scope(request, Scope.READ)
    image = access_image(membership, image_id)
    on = favourite_set(membership=membership, image=image, on=True)
    return FavouriteOut(id=str(image.public_id), favourite=on)


@router.delete("/images/{image_id}/favourite", response={200: FavouriteOut, **ERRORS})
def image_unfavourite(request: HttpRequest, image_id: str) -> FavouriteOut:
    membership = require_scope(request, Scope.READ)
    image = access_image(membership, image_id)
    on = favourite_set(membership=membership, image=image, on=False)
    return FavouriteOut(id=str(image.public_id), favourite=on)
