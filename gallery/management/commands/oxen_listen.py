"""The one long-running listener per deployment: Oxen's event stream, handed to Celery.

It consumes ``GET /api/events`` and, for every ``media_generation_completed`` event, sends a
``generation_completed`` task: the listener itself writes nothing but a heartbeat. The stream
has no replay, so on every (re)connect it sends a sweep, which reconciles everything in flight
against the queue. Polling remains the truth: if this process is down, beat's sweep still sees
every completion, only later.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from gallery import oxen, tasks
from seedream.events import Connected
from seedream.responses import CompletionEvent

logger = logging.getLogger("gallery.listener")


class Command(BaseCommand):
    help = "Listen to Oxen's event stream and hand completions to the Celery workers."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        heartbeat = threading.Thread(target=self._beat, args=(stop,), daemon=True)
        heartbeat.start()
        client = oxen.get_client()
        logger.info("listening to %s/api/events", client.config.base_url)
        stream = client.events(stop=stop)
        for item in stream:
            if isinstance(item, Connected):
                logger.info(
                    "event stream %s; reconciling in-flight generations",
                    "reconnected" if item.reconnect else "connected",
                )
                tasks.generations_sweep.delay()
            elif isinstance(item, CompletionEvent):
                tasks.generation_completed.delay(
                    item.generation_id, item.status, item.url, item.error
                )
            if stop.is_set():
                break
        logger.info("listener stopped")

    @staticmethod
    def _beat(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                oxen.listener_heartbeat()
            except Exception:  # the cache being down must not stop the listener
                logger.exception("could not write the listener heartbeat")
            stop.wait(oxen.LISTENER_HEARTBEAT_TTL / 3)
