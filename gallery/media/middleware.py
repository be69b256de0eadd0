"""Serves signed thumbnail URLs (``gallery.media.signed``) before sessions, authentication and
the rest of the middleware run: no session, no user, no query (issue 15)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.core.files.storage import FileSystemStorage, storages
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotFound
from django.http.response import HttpResponseBase

from gallery.media import signed

MEDIA_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


class SignedMediaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if not path.startswith(signed.PREFIX):
            return self.get_response(request)
        return signed_thumbnail_response(request)


def signed_thumbnail_response(request: HttpRequest) -> HttpResponseBase:
    if request.method not in ("GET", "HEAD"):
        return _plain(HttpResponse(status=405))
    name = signed.verified_name(request.path_info, request.GET.get("e"), request.GET.get("s"))
    storage = storages["default"]
    if name is None or not isinstance(storage, FileSystemStorage):
        return _plain(HttpResponseNotFound())
    try:
        handle = open(storage.path(name), "rb")  # noqa: SIM115 (FileResponse closes it)
    except OSError:
        return _plain(HttpResponseNotFound())
    response = FileResponse(handle, content_type="image/webp")
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    max_age = max(0, int(request.GET["e"]) - int(time.time()))
    response["Cache-Control"] = f"private, max-age={max_age}, immutable"
    return response


def _plain(response: HttpResponse) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
