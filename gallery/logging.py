"""Logging helpers: no secret ever reaches a log line."""

from __future__ import annotations

import logging

from django.conf import settings


class RedactSecretsFilter(logging.Filter):
    """Replaces the Oxen API key with a marker in every record, message and arguments alike."""

    def filter(self, record: logging.LogRecord) -> bool:
        key = getattr(settings, "OXEN_API_KEY", "")
        if key and len(key) >= 4:
            message = record.getMessage()
            if key in message:
                record.msg = message.replace(key, "[redacted]")
                record.args = None
        return True
