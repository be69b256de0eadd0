"""The event listener: Oxen's ``/api/events`` stream, handed to Celery.

For every ``media_generation_completed`` event it sends a ``generation_completed`` task; the
listener writes nothing itself but a heartbeat, which tells the sweep that completions arrive
by events, so polling can slow down to a safety net. The stream has no replay, so on every
(re)connect it sends a sweep that reconciles everything in flight with the queue. Run one per
deployment (``manage.py oxen_listen``).
"""

from __future__ import annotations

import logging
import threading

from gallery import oxen, tasks
from seedream.events import Connected
from seedream.responses import CompletionEvent

logger = logging.getLogger("gallery.listener")


def listen(stop: threading.Event) -> None:
    """Consume the stream until ``stop`` is set (the stream reconnects by itself)."""
    heartbeat = threading.Thread(target=_beat, args=(stop,), daemon=True, name="heartbeat")
    heartbeat.start()
    client = oxen.get_client()
    logger.info("listening to %s/api/events", client.config.base_url)
    for item in client.events(stop=stop):
        if isinstance(item, Connected):
            logger.info(
                "event stream %s; reconciling in-flight generations",
                "reconnected" if item.reconnect else "connected",
            )
            tasks.generations_sweep.delay()
        elif isinstance(item, CompletionEvent):
            tasks.generation_completed.delay(item.generation_id, item.status, item.url, item.error)
        if stop.is_set():
            break
    logger.info("listener stopped")


def _beat(stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            oxen.listener_heartbeat()
        except Exception:  # a cache outage must not stop the listener
            logger.exception("could not write the listener heartbeat")
        stop.wait(oxen.LISTENER_HEARTBEAT_TTL / 3)
