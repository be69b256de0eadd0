"""Media served by the app, behind the same access checks as the pages that show it.

The browser never sees a storage URL or one of Oxen's presigned result URLs. Every media
response goes through ``file_response``: Content-Type from what we stored, ``nosniff``, a
sandboxing CSP. Thumbnails carry their content hash in the URL, so they can be cached for
a year (``immutable``); ``private`` because every one of them is access-checked."""

from __future__ import annotations

import io

from django.contrib.auth.decorators import login_required
from django.core.files.storage import storages
from django.http import FileResponse, Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from gallery.browse.access import access_image
from gallery.generation.access import access_reference
from gallery.generation.models import GalleryImage
from gallery.generation.references import reference_from_signed_token
from gallery.media import imaging
from gallery.media.access import access_thumbnail
from gallery.media.reference_thumbs import reference_thumbnail
from gallery.media.renditions import Variant, image_rendition
from gallery.team.access import require_membership

# Media responses: the browser must treat them as nothing but the image they claim to be.
MEDIA_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def file_response(
    name: str,
    content_type: str,
    *,
    download_as: str = "",
    cache_control: str = "private, no-store",
) -> FileResponse:
    """Serve a stored media file with strict headers; the caller has done every access check.

    Content-Type comes from what we stored, never from the file name; originals are
    attachments. ``no-store`` by default so that nothing cached outlives a revoked link.
    """
    try:
        handle = storages["default"].open(name, "rb")
    except OSError:
        raise Http404("The file is missing.") from None
    response = FileResponse(
        handle, content_type=content_type, as_attachment=bool(download_as), filename=download_as
    )
    return _protected(response, download_as=download_as, cache_control=cache_control)


def _protected[R: HttpResponseBase](response: R, *, download_as: str, cache_control: str) -> R:
    """The headers every media response carries: nothing but the image it claims to be."""
    if not download_as:
        response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cache-Control"] = cache_control
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Referrer-Policy"] = "no-referrer"
    return response


def media_response(
    image: GalleryImage,
    variant: Variant,
    *,
    cache_control: str = "private, no-store",
    max_width: int | None = None,
) -> FileResponse:
    """One variant of an image (see ``image_rendition``) through ``file_response``; 404 when
    ``max_width`` leaves no rendition to show."""
    try:
        name, content_type = image_rendition(image, variant, max_width=max_width)
    except LookupError:
        raise Http404("No rendition of this image is small enough.") from None
    return file_response(
        name, content_type, download_as=_download_name(image, variant), cache_control=cache_control
    )


def public_original_response(image: GalleryImage) -> HttpResponseBase:
    """The original for people outside the team (a shared link's download): the same headers,
    with its metadata stripped (``imaging.original_for_public``); the team's own download
    keeps the file as Oxen made it."""
    name, content_type = image_rendition(image, "download")
    try:
        with storages["default"].open(name, "rb") as handle:
            clean = imaging.original_for_public(handle)
    except OSError:
        raise Http404("The file is missing.") from None
    except imaging.ImageRejected:
        raise Http404("The file cannot be served.") from None
    download_as = _download_name(image, "download")
    response = FileResponse(
        io.BytesIO(clean), content_type=content_type, as_attachment=True, filename=download_as
    )
    return _protected(response, download_as=download_as, cache_control="private, no-store")


def _download_name(image: GalleryImage, variant: Variant) -> str:
    return f"seedream-{image.public_id}.{image.extension}" if variant == "download" else ""


IMMUTABLE = "private, max-age=31536000, immutable"
ORIGINAL = "private, max-age=3600"


@login_required
@require_GET
def thumbnail(request: HttpRequest, public_id: str, sha256: str, width: int) -> HttpResponseBase:
    thumb = access_thumbnail(require_membership(request), public_id, sha256=sha256, width=width)
    return file_response(thumb.file.name or "", "image/webp", cache_control=IMMUTABLE)


@login_required
@require_GET
def original(request: HttpRequest, public_id: str) -> HttpResponseBase:
    image = access_image(require_membership(request), public_id)
    return media_response(image, "download", cache_control=ORIGINAL)


@login_required
@require_GET
def reference(request: HttpRequest, public_id: str) -> HttpResponseBase:
    ref = access_reference(require_membership(request), public_id)
    download_as = f"reference-{ref.public_id}.{ref.extension}" if "download" in request.GET else ""
    return file_response(
        ref.file.name or "", ref.mime_type, download_as=download_as, cache_control=IMMUTABLE
    )


@login_required
@require_GET
def reference_thumb(request: HttpRequest, public_id: str) -> HttpResponseBase:
    """A reference's square thumbnail (the library and the detail page never load originals)."""
    ref = access_reference(require_membership(request), public_id)
    return file_response(reference_thumbnail(ref), "image/webp", cache_control=IMMUTABLE)


@require_GET
def reference_public(request: HttpRequest, token: str) -> HttpResponseBase:
    """A reference at a signed, expiring URL, for Oxen to fetch (``signed-url`` hosting)."""
    ref = reference_from_signed_token(token)
    if ref is None:
        raise Http404("No such reference.")
    return file_response(ref.file.name or "", ref.mime_type, cache_control="no-store")
