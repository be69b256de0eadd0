"""System checks that catch a dangerous configuration before the first request."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def oxen_configuration(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    host = urlsplit(settings.OXEN_BASE_URL).hostname or ""
    loopback = host in {"127.0.0.1", "localhost", "::1"}
    if loopback and not settings.OXEN_SIMULATOR:
        problems.append(
            Error(
                "OXEN_BASE_URL points at this machine but OXEN_SIMULATOR is off.",
                hint="Set OXEN_SIMULATOR=true to use the local simulator on purpose.",
                id="gallery.E001",
            )
        )
    if not settings.OXEN_API_KEY and not settings.OXEN_SIMULATOR:
        problems.append(
            Warning(
                "OXEN_API_KEY is not set: generations will fail until it is.",
                hint="Set OXEN_API_KEY, or run bin/run, which starts the local simulator.",
                id="gallery.W001",
            )
        )
    return problems
