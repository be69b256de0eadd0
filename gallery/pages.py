"""Site-wide pages that belong to no domain: the styled error pages (400, 403, 404, 500 and the
CSRF failure) and ``/favicon.ico``.

Error pages keep the app's header and a way back; under a shared link (``/s/…``) they use the
shared-link shell instead, so a visitor without an account never sees the members' navigation.
The 500 page is rendered without the request's context processors: whatever broke (the
database, say) must not break the error page too.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csp import get_nonce
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import Resolver404
from django.views.decorators.http import require_GET

from seedream import limits

SHARED_PREFIX = "/s/"


def _shell(request: HttpRequest) -> str:
    return "sharing/public_base.html" if request.path.startswith(SHARED_PREFIX) else "base.html"


def error_page(
    request: HttpRequest, *, status: int, title: str, message: str, with_request: bool = True
) -> HttpResponse:
    """One styled error page, in the shell that fits the address."""
    context = {"shell": _shell(request), "status": status, "title": title, "message": message}
    if not with_request:
        # Without the request's context processors the page still needs the CSP nonce for
        # its inline script (the middleware put it on the request; no database involved).
        context["csp_nonce"] = get_nonce(request)
    html = render_to_string("errors/error.html", context, request if with_request else None)
    response = HttpResponse(html, status=status)
    if request.path.startswith(SHARED_PREFIX):
        response["Cache-Control"] = "no-store"
        response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, TooManyFilesSent):
        message = (
            f"That was more files than one upload may carry (at most "
            f"{settings.DATA_UPLOAD_MAX_NUMBER_FILES}). Seedream takes at most "
            f"{limits.MAX_REFERENCES} reference images: go back and choose fewer."
        )
    elif isinstance(exception, RequestDataTooBig):
        message = "That upload was too large to accept. Go back and choose smaller or fewer files."
    elif isinstance(exception, TooManyFieldsSent):
        message = "That form had too many fields to accept. Go back and try with fewer."
    else:
        message = "The request could not be understood. Go back and try again."
    return error_page(request, status=400, title="That did not work", message=message)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(
        request,
        status=403,
        title="Not allowed",
        message="You do not have permission to do that.",
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return error_page(
        request,
        status=403,
        title="That form had expired",
        message=(
            "Its security check did not match, so nothing was changed. Go back, reload the page "
            "and try again."
        ),
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Our own Http404s carry a sentence written for people ("Viewers cannot generate images.");
    # the resolver's carry a dict of patterns, which is nobody's business.
    said = ""
    if isinstance(exception, Http404) and not isinstance(exception, Resolver404):
        text = str(exception)
        said = text if text and not text.startswith(("{", "[")) else ""
    if request.path.startswith(SHARED_PREFIX):
        message = "There is nothing at this address. Check that the whole link was copied."
    else:
        message = said or "There is nothing at this address, or it is not yours to see."
    return error_page(request, status=404, title="Not found", message=message)


def server_error(request: HttpRequest) -> HttpResponse:
    return error_page(
        request,
        status=500,
        title="Something went wrong",
        message=(
            "The server failed on this request and the error was logged. Nothing you saved is "
            "lost; try again in a moment."
        ),
        with_request=False,
    )


@require_GET
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """``/favicon.ico``, asked for by browsers and tools that ignore ``<link rel=icon>``."""
    response = HttpResponseRedirect(static("icons/favicon.ico"))
    response["Cache-Control"] = "public, max-age=86400"
    return response
