"""Email goes out from the worker, after commit, and a failing SMTP server is tried again."""

from __future__ import annotations

import smtplib
from typing import Any

import pytest
from django.core import mail

from gallery import tasks
from gallery.mail import mail_queue

pytestmark = pytest.mark.django_db


def test_a_message_is_queued_after_commit_not_sent_in_the_request(
    django_capture_on_commit_callbacks: Any, mail_queued: list[Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        mail_queue("Subject", "Body", ["a@example.com"])
        mail_queue("Nobody to tell", "Body", [])
    assert mail_queued == [] and len(callbacks) == 1  # nothing before the commit
    callbacks[0]()
    assert mail_queued == [("Subject", "Body", ["a@example.com"])] and mail.outbox == []


def test_the_worker_tries_a_failing_smtp_server_again(monkeypatch: pytest.MonkeyPatch) -> None:
    failures = [ConnectionRefusedError("refused"), smtplib.SMTPServerDisconnected("gone")]
    send_mail = mail.send_mail

    def flaky(*args: Any, **kwargs: Any) -> int:
        if failures:
            raise failures.pop(0)
        return send_mail(*args, **kwargs)

    monkeypatch.setattr(mail, "send_mail", flaky)  # the task imports it when it runs
    tasks.mail_send.apply(args=("Subject", "Body", ["a@example.com"])).get()
    assert failures == [] and [m.to for m in mail.outbox] == [["a@example.com"]]
