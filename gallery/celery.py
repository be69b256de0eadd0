"""The Celery app. Configuration lives in settings under the CELERY_ prefix."""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gallery.settings")

app = Celery("gallery")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def process_warm(**_: Any) -> None:
    """A prefork pool process starts cold; without this its first task pays ~100 ms more than
    the next (the pooled HTTP clients' TLS contexts, Pillow's codecs), and a burst of
    completions starts on every process at once (issue 15)."""
    from django.conf import settings

    from gallery import oxen
    from gallery.media import imaging

    try:
        imaging.warm()
        if settings.OXEN_API_KEY:
            oxen.get_client().warm()
    except Exception:  # a task meets the same problem and reports it where it belongs
        logging.getLogger(__name__).warning("could not warm this worker process", exc_info=True)
