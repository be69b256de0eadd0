"""Where email goes when no SMTP server is configured: into the log, one line per message
(what would have been sent, to whom), so a local run shows a proofing digest and a server
without mail loses nothing silently. Django's console backend does the same but is refused
by ``check --deploy`` as development-only."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)


class LogEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            logger.info(
                "email not sent (no EMAIL_HOST) to %s: %s\n%s",
                ", ".join(message.to),
                message.subject,
                message.body,
            )
        return len(email_messages)
