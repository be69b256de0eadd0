"""The request as the middleware leaves it: its type for views' hints, and who sent it."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails


class HtmxRequest(HttpRequest):
    """A request after django-htmx's middleware: ``request.htmx`` is truthy for an htmx
    request (``HX-Request: true``), so a view can answer with a fragment instead of a page."""

    htmx: HtmxDetails


def dialog_render(
    request: HtmxRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """A page that is also a dialog: the whole page, or for htmx only its ``#dialog`` partial
    (the share and add-to-collection dialogs); varies on HX-Request so caches keep both."""
    name = f"{template}#dialog" if request.htmx else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, for the login and link-password throttles; None when the request
    names none (a request built in code). Behind a proxy (``BEHIND_PROXY``, which sets
    SECURE_PROXY_SSL_HEADER) the last entry of X-Forwarded-For, the one our own proxy appended;
    a client can forge the earlier ones, so nothing else in that header is trusted."""
    candidates = [str(request.META.get("REMOTE_ADDR", ""))]
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
        candidates.insert(0, forwarded.rsplit(",", 1)[-1])
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate.strip()))
        except ValueError:
            continue
    return None


def redirect_to_next(request: HttpRequest, fallback: str = "home") -> HttpResponseRedirect:
    """Back to the page a form came from (its ``next`` field) when that is a path on this site,
    else to the ``fallback`` view. Only a path is followed: ``django.shortcuts.redirect`` would
    take "0" or "home" for a view name, and another host is never a target."""
    target = str(request.POST.get("next", ""))
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse(fallback)
    return HttpResponseRedirect(target)
