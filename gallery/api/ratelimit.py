"""Per-token rate limits for the API, counted apart from the browser's pages: a fixed
one-minute window per token (per user for the session), in the cache, answered with 429 and
``Retry-After`` when it is full."""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache

from gallery.errors import ApplicationError

WINDOW_SECONDS = 60


class RateLimited(ApplicationError):
    """Too many requests in this window; ``retry_after`` says when the next one is taken."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests: try again in {retry_after} seconds.")
        self.retry_after = retry_after


def api_rate_check(owner: str) -> None:
    """Count one request for ``owner`` ("token:<id>" or "user:<id>"); raise RateLimited when
    this window already took ``API_RATE_LIMIT_PER_MINUTE``."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"api:rate:{owner}:{window}"
    cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens the window
        cache.set(key, 1, timeout=WINDOW_SECONDS + 5)
        count = 1
    if count > limit:
        raise RateLimited(max(1, math.ceil((window + 1) * WINDOW_SECONDS - now)))
