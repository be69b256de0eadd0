"""Media served by the app, behind the same access checks as the pages that show it.

The browser never sees a storage URL or one of Oxen's presigned result URLs. Thumbnails carry
their content hash in the URL, so they can be cached for a year (``immutable``); ``private``
because every one of them is access-checked.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from gallery import sharing
from gallery.models import Thumbnail
from gallery.references import reference_from_signed_token
from gallery.selectors import _uuid, access_image, access_reference, images_for
from gallery.teams import require_membership

IMMUTABLE = "private, max-age=31536000, immutable"
ORIGINAL = "private, max-age=3600"


@login_required
@require_GET
def thumbnail(request: HttpRequest, public_id: str, sha256: str, width: int) -> HttpResponseBase:
    membership = require_membership(request)
    thumb = (
        Thumbnail.objects.filter(
            image__in=images_for(membership).filter(public_id=_uuid(public_id)).values("pk"),
            width=width,
            sha256=sha256,
        )
        .only("file")
        .first()
    )
    if thumb is None:
        raise Http404("No such thumbnail.")
    return sharing.file_response(thumb.file.name or "", "image/webp", cache_control=IMMUTABLE)


@login_required
@require_GET
def original(request: HttpRequest, public_id: str) -> HttpResponseBase:
    image = access_image(require_membership(request), public_id)
    return sharing.media_response(image, "download", cache_control=ORIGINAL)


@login_required
@require_GET
def reference(request: HttpRequest, public_id: str) -> HttpResponseBase:
    ref = access_reference(require_membership(request), public_id)
    download_as = f"reference-{ref.public_id}.{ref.extension}" if "download" in request.GET else ""
    return sharing.file_response(
        ref.file.name or "", ref.mime_type, download_as=download_as, cache_control=IMMUTABLE
    )


@require_GET
def reference_public(request: HttpRequest, token: str) -> HttpResponseBase:
    """A reference at a signed, expiring URL, for Oxen to fetch (``signed-url`` hosting)."""
    ref = reference_from_signed_token(token)
    if ref is None:
        raise Http404("No such reference.")
    return sharing.file_response(ref.file.name or "", ref.mime_type, cache_control="no-store")
