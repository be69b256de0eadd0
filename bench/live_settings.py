"""The app's settings with the SSE prototype of ``bench/live_sse.py`` mounted (bench only)."""

from gallery.settings import *  # noqa: F403

ROOT_URLCONF = "bench.live_sse"
