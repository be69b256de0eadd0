"""The event listener: Oxen's ``/api/events`` stream, handed to Celery.

For every ``media_generation_completed`` event it sends a ``generation_completed`` task (which
applies it and ingests the result in one go). The listener writes nothing itself but its
liveness, and that comes from the stream: "connected" is said only while the stream delivers
(its connection, events and keep-alives; ``client.events(liveness=True)``), withdrawn the
moment it ends (``Disconnected``) or falls silent, and it expires within
``LISTENER_HEARTBEAT_TTL`` seconds of the listener dying, so polling takes over within
seconds. The stream has no replay, so on every (re)connect, and when it drops, the listener
sends a catch-up sweep that looks at every generation Oxen holds at once. Run one per
deployment (``manage.py oxen_listen``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from gallery import oxen, tasks
from seedream.events import Connected, Disconnected, KeepAlive
from seedream.responses import CompletionEvent

logger = logging.getLogger("gallery.listener")

# Oxen sends a keep-alive every 15 s: a stream that has said nothing for longer is not
# trusted to bring completions (the client itself gives it up after 45 s of silence).
SILENCE_LIMIT = 20.0
# How often the liveness is refreshed while the stream delivers (well inside the TTL).
REFRESH_EVERY = 1.0


class StreamLiveness:
    """What the stream last said about itself; a refresher thread turns it into the shared
    heartbeat, which therefore lapses by itself when this process dies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_heard: float | None = None  # monotonic time of the last sign of life

    def heard(self) -> None:
        with self._lock:
            self._last_heard = time.monotonic()

    def lost(self) -> None:
        with self._lock:  # so a refresh in flight cannot put the heartbeat back after this
            self._last_heard = None
            _quietly(oxen.listener_gone)

    def refresh_until(self, done: threading.Event) -> None:
        while not done.wait(REFRESH_EVERY):
            with self._lock:
                last = self._last_heard
                up = last is not None and time.monotonic() - last < SILENCE_LIMIT
                _quietly(oxen.listener_heartbeat if up else oxen.listener_gone)


def listen(stop: threading.Event) -> None:
    """Consume the stream until ``stop`` is set (the stream reconnects by itself)."""
    liveness = StreamLiveness()
    done = threading.Event()
    refresher = threading.Thread(
        target=liveness.refresh_until, args=(done,), daemon=True, name="liveness"
    )
    refresher.start()
    client = oxen.get_client()
    logger.info("listening to %s/api/events", client.config.base_url)
    try:
        for item in client.events(stop=stop, liveness=True):
            if isinstance(item, CompletionEvent):
                liveness.heard()
                tasks.generation_completed.delay(
                    item.generation_id, item.status, item.url, item.error
                )
            elif isinstance(item, KeepAlive):
                liveness.heard()
            elif isinstance(item, Connected):
                liveness.heard()
                _quietly(oxen.listener_heartbeat)
                logger.info(
                    "event stream %s; catching up with every generation in flight",
                    "reconnected" if item.reconnect else "connected",
                )
                tasks.generations_sweep.delay(catch_up=True)
            elif isinstance(item, Disconnected):
                liveness.lost()
                logger.info("event stream lost (%s); polling takes over", item.reason)
                tasks.generations_sweep.delay(catch_up=True)
            if stop.is_set():
                break
    finally:
        done.set()
        refresher.join(timeout=5)
        liveness.lost()
    logger.info("listener stopped")


def _quietly(write: Callable[[], None]) -> None:
    try:
        write()
    except Exception:  # a cache outage must not stop the listener
        logger.exception("could not write the listener's liveness")
