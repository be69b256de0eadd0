"""The simulator's own clock: callbacks run at a due time on a small worker pool."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

logger = logging.getLogger("seedream.simulator")


class Scheduler:
    """Runs callbacks at monotonic due times.

    One thread waits for the next due time; the work itself (fetching references, rendering)
    runs on a pool, so a slow reference download does not delay other generations.
    """

    def __init__(self, workers: int = 8) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oxen-sim-work")
        self._thread = threading.Thread(target=self._run, name="oxen-sim-clock", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the pool after ``delay`` seconds."""
        due = time.monotonic() + max(0.0, delay)
        with self._condition:
            if self._stopped:
                return
            heapq.heappush(self._heap, (due, next(self._sequence), callback))
            self._condition.notify()

    def stop(self) -> None:
        """Drop pending callbacks and stop; running callbacks finish on their own."""
        with self._condition:
            self._stopped = True
            self._heap.clear()
            self._condition.notify()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._condition.wait(timeout)
                if self._stopped:
                    return
                _, _, callback = heapq.heappop(self._heap)
            try:
                self._pool.submit(self._guarded, callback)
            except RuntimeError:  # pool shut down while stopping
                return

    @staticmethod
    def _guarded(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:  # a bug in one generation must not kill the clock
            logger.exception("simulator callback failed")
