"""Retrying calls that are safe to repeat: capped exponential backoff with full jitter.

Which calls are safe is the client's decision (GET/DELETE, and a POST only when the connection
was never opened); this module only knows how long to wait and when to give up. A server's
``Retry-After`` is a floor: the next request never goes out before it. Waits longer than
``RetryPolicy.max_sleep`` are not slept at all; the error is raised so that a Celery task can
reschedule itself instead of blocking a worker.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from seedream.config import RetryPolicy
from seedream.errors import OxenError

logger = logging.getLogger(__name__)

type Sleep = Callable[[float], None]


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)] (attempt counts from 0)."""
    ceiling = min(cap, base * (2 ** min(attempt, 32)))
    return rng.uniform(0.0, ceiling)


class Retrier:
    """Runs a call up to ``attempts`` times, sleeping between retryable failures."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._clock = clock

    def call[T](
        self,
        fn: Callable[[], T],
        *,
        should_retry: Callable[[OxenError], bool],
        attempts: int | None = None,
        what: str = "request",
        deadline: float | None = None,
    ) -> T:
        """Return ``fn()``; on an :class:`OxenError` that ``should_retry`` accepts, wait and
        try again, up to ``attempts`` tries in all (default: the policy's ``max_attempts``).

        With a ``deadline`` (a ``clock()`` time), a retry happens only if its wait ends
        before the deadline; otherwise the last error is raised at once."""
        total = self.policy.max_attempts if attempts is None else max(1, attempts)
        for attempt in range(total):
            try:
                return fn()
            except OxenError as error:
                if attempt + 1 >= total or not should_retry(error):
                    raise
                delay = self.delay_for(attempt, error)
                if delay is None:
                    raise
                if deadline is not None and self._clock() + delay >= deadline:
                    raise
                logger.warning(
                    "%s failed (%s), retry %d/%d in %.2fs",
                    what,
                    type(error).__name__,
                    attempt + 1,
                    total - 1,
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def delay_for(self, attempt: int, error: OxenError) -> float | None:
        """The wait before the next try, or ``None`` when it would exceed ``max_sleep``."""
        delay = backoff_delay(
            attempt, base=self.policy.base_delay, cap=self.policy.max_delay, rng=self._rng
        )
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        if delay > self.policy.max_sleep:
            return None
        return delay
