"""The request as the middleware leaves it, for views' type hints."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxRequest(HttpRequest):
    """A request after django-htmx's middleware: ``request.htmx`` is truthy for an htmx
    request (``HX-Request: true``), so a view can answer with a fragment instead of a page."""

    htmx: HtmxDetails
