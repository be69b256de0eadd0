"""Serves signed thumbnail URLs (``gallery.media.signed``) before sessions, authentication and
the rest of the middleware run: no session, no user, no query (issue 15).

Two doors to the same check: ``SignedMediaWSGI`` wraps the WSGI application (``gallery.wsgi``,
what gunicorn runs), so a thumbnail never builds a Django request at all; the middleware,
first after SecurityMiddleware, answers the same URLs for every other way in (the test client,
``runserver``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from django.core.files.storage import FileSystemStorage, storages
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotFound
from django.http.response import HttpResponseBase

from gallery.media import signed

MEDIA_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


class SignedMediaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not signed.is_signed_path(request.path_info):
            return self.get_response(request)
        return signed_thumbnail_response(request)


def signed_thumbnail_response(request: HttpRequest) -> HttpResponseBase:
    if request.method not in ("GET", "HEAD"):
        return _plain(HttpResponse(status=405))
    name = signed.verified(request.path_info, request.GET.get("e"), request.GET.get("s"))
    storage = storages["default"]
    if name is None or not isinstance(storage, FileSystemStorage):
        return _plain(HttpResponse(status=signed.refusal_status(request.path_info)))
    try:
        handle = open(storage.path(name), "rb")  # noqa: SIM115 (FileResponse closes it)
    except OSError:
        return _plain(HttpResponseNotFound())
    response = FileResponse(handle, content_type="image/webp")
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cache-Control"] = signed.cache_control(request.path_info, request.GET["e"])
    return response


def _plain(response: HttpResponse) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


class SignedMediaWSGI:
    """WSGI middleware: signed thumbnail URLs answered before Django (see the module)."""

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if not signed.is_signed_path(path):
            return self.application(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        expires = (query.get("e") or [None])[0]
        name = signed.verified(path, expires, (query.get("s") or [None])[0])
        storage = storages["default"]
        if method not in ("GET", "HEAD"):
            return _wsgi_plain(start_response, "405 Method Not Allowed")
        if name is None or expires is None or not isinstance(storage, FileSystemStorage):
            gone = signed.refusal_status(path) == 410
            return _wsgi_plain(start_response, "410 Gone" if gone else "404 Not Found")
        try:
            handle = open(storage.path(name), "rb")  # noqa: SIM115 (the server closes it)
        except OSError:
            return _wsgi_plain(start_response, "404 Not Found")
        size = os.fstat(handle.fileno()).st_size
        start_response(
            "200 OK",
            [
                ("Content-Type", "image/webp"),
                ("Content-Length", str(size)),
                ("Content-Disposition", "inline"),
                ("X-Content-Type-Options", "nosniff"),
                ("Content-Security-Policy", MEDIA_CSP),
                ("Cache-Control", signed.cache_control(path, expires)),
            ],
        )
        if method == "HEAD":
            handle.close()
            return []
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return wrapper(handle, 65536)
        return _chunks(handle)


def _chunks(handle: Any) -> Iterable[bytes]:
    with handle:
        while chunk := handle.read(65536):
            yield chunk


def _wsgi_plain(start_response: Callable[..., Any], status: str) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", "text/plain"),
            ("Content-Length", "0"),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
        ],
    )
    return []
