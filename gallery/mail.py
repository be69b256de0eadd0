"""Email: sent by a worker, never by the request that causes it, and where it goes when no
SMTP server is configured.

``mail_queue`` hands a message to the ``mail_send`` task once the transaction commits: a slow
or unreachable SMTP server never holds a web thread, and a refused connection is tried again
with backoff (the task's ``autoretry_for``) instead of being dropped.

Without ``EMAIL_HOST`` mail goes into the log, one line per message (what would have been
sent, to whom), so a local run shows a proofing digest and a server without mail loses nothing
silently. Django's console backend does the same but is refused by ``check --deploy`` as
development-only."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from gallery import tasks

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


def mail_queue(subject: str, body: str, recipients: Sequence[str]) -> None:
    """Send a plain-text message from ``DEFAULT_FROM_EMAIL`` by the worker, after commit."""
    to = list(recipients)
    if to:
        transaction.on_commit(lambda: tasks.mail_send.delay(subject, body, to))
