"""``manage.py oxen_listen``: the one long-running event listener per deployment."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from gallery.generation.listener import listen


class Command(BaseCommand):
    help = "Listen to Oxen's event stream and hand completions to the Celery workers."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        listen(stop)
