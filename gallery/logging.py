"""Logging helpers: no secret ever reaches a log line.

Two kinds of secret could: the Oxen API key, and the tokens in the paths of the app's secret
links (``/s/<token>`` a shared link, ``/join/<token>`` an invitation, ``/r/<token>`` a signed
reference URL), which Django's request log ("Not Found: /s/…"), gunicorn's access log (the
request line and the Referer) and error messages would otherwise write in clear: a token read
from a log opens the link or joins the team. One filter, :class:`RedactSecretsFilter`, hides
both; the settings put it on every handler of Django's logging, and :class:`GunicornLogger` on
gunicorn's access and error logs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from gunicorn.glogging import Logger as BaseGunicornLogger

REDACTED = "[redacted]"

# A secret link's path: "/s/", "/join/" or "/r/" at the start of a path (after a space, a
# quote, "=" or "(" as in a log line or a query string, or after the host of a full URL),
# its slashes plain or percent-encoded, and then the token up to the next separator. Paths
# that merely contain such a segment further down ("/media/r/<uuid>/") are left alone.
_SECRET_PATH = re.compile(
    r"(?P<lead>^|[\s\"'=(\[,]|://[^/\s\"']+)"
    r"(?P<slash>/|%2[fF])(?P<kind>s|join|r)(?P<sep>/|%2[fF])"
    r"(?P<token>[^/\s\"'?#&%]+)"
)

# A personal access token of the API (gallery.api.tokens): "sg_" and 43 base64url characters.
_API_TOKEN = re.compile(r"sg_[A-Za-z0-9_-]{43}")


def _oxen_key() -> str:
    try:
        key = str(getattr(settings, "OXEN_API_KEY", "") or "")
    except ImproperlyConfigured:  # a process that logs before Django is set up (gunicorn's arbiter)
        return ""
    return key if len(key) >= 4 else ""


def redact(text: str) -> str:
    """``text`` with the Oxen key, every secret link's token and every API token replaced by a
    marker."""
    key = _oxen_key()
    if key and key in text:
        text = text.replace(key, REDACTED)
    if "sg_" in text:
        text = _API_TOKEN.sub(REDACTED, text)
    if "/" in text or "%2" in text:
        text = _SECRET_PATH.sub(
            lambda m: f"{m['lead']}{m['slash']}{m['kind']}{m['sep']}{REDACTED}", text
        )
    return text


class RedactSecretsFilter(logging.Filter):
    """Redacts secrets in every record: its message (arguments included), traceback and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        clean = redact(message)
        if clean != message:
            record.msg = clean
            record.args = None
        # A traceback can quote a secret too (an exception's message, a local in a frame).
        # Formatters reuse ``exc_text`` when it is set, so format it here, redacted.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class GunicornLogger(BaseGunicornLogger):  # type: ignore[misc]
    """Gunicorn's logger with the same redaction on its access and error logs
    (``gunicorn --logger-class gallery.logging.GunicornLogger``): its access log writes the
    request line and the Referer, both of which can hold a secret link's token."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
                logger.addFilter(RedactSecretsFilter())
