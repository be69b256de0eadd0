"""Logging helpers: no secret ever reaches a log line."""

from __future__ import annotations

import logging

from django.conf import settings


class RedactSecretsFilter(logging.Filter):
    """Replaces the Oxen API key with a marker in every record, message and arguments alike."""

    def filter(self, record: logging.LogRecord) -> bool:
        key = getattr(settings, "OXEN_API_KEY", "")
        if not key or len(key) < 4:
            return True
        message = record.getMessage()
        if key in message:
            record.msg = message.replace(key, "[redacted]")
            record.args = None
        # A traceback can quote the key too (an exception's message, a local in a frame).
        # Formatters reuse ``exc_text`` when it is set, so format it here, redacted.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and key in record.exc_text:
            record.exc_text = record.exc_text.replace(key, "[redacted]")
        if record.stack_info and key in record.stack_info:
            record.stack_info = record.stack_info.replace(key, "[redacted]")
        return True
