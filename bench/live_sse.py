"""A server-sent-events version of the live gallery, for ``bench_live.py`` only.

It is what the app would do with SSE instead of conditional polls: each open page holds one
streaming response, and the view checks the team's version (the same ``live_version`` query the
poll uses) every ``interval`` seconds, sending an event when it changes. It is mounted only by
``bench.live_settings``; the app itself never serves it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import include, path

from gallery.browse.selectors import live_version
from gallery.team.access import require_membership

INTERVAL = 2.0


def events(request: HttpRequest) -> StreamingHttpResponse:
    membership = require_membership(request)
    seconds = float(request.GET.get("seconds", "20"))

    def stream() -> Iterator[bytes]:
        last = ""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            version = live_version(membership)
            if version != last:
                last = version
                yield f"event: changed\ndata: {version}\n\n".encode()
            else:
                yield b": keep-alive\n\n"
            time.sleep(INTERVAL)

    response = StreamingHttpResponse(stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    return response


urlpatterns = [
    path("bench/events/", events),
    path("", include("gallery.urls")),
]
