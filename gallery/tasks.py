"""Celery tasks: thin. Each takes a row id, calls one service and schedules what comes next.

Every task here is idempotent (the services only move a row from the states they expect), so
they all use ``acks_late`` with ``reject_on_worker_lost``: a worker killed mid-task leaves its
message to be delivered again, and the second run finishes the job or does nothing. No task
sleeps; a service that must look again later says when, and the task re-enqueues itself with a
countdown that :func:`capped_delay` keeps far below the broker's visibility timeout (a longer
countdown on Redis is redelivered, and run, again and again).

Services queue these tasks (after commit), so this module imports the services inside each
task body, never at module level: the import graph runs services -> tasks only
(``tests/test_architecture.py`` holds it to that).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

if TYPE_CHECKING:
    from gallery.generation.lifecycle import Next

logger = logging.getLogger(__name__)

# Every task below is safe to run twice, so a killed worker's message is delivered again.
idempotent_task = shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)


def capped_delay(seconds: float) -> float:
    """A countdown that stays below a quarter of the visibility timeout (and 5 minutes)."""
    ceiling = min(300.0, settings.CELERY_VISIBILITY_TIMEOUT / 4)
    return max(0.0, min(float(seconds), ceiling))


def _follow(task: Any, generation_id: int, outcome: Next) -> None:
    """Queue the step a service asked for: the ingest, the submit or the same task again,
    now or after a countdown; and the preview of an image just stored, on its own queue."""
    if outcome.preview is not None:
        image_preview_make.delay(outcome.preview)
    if not (outcome.ingest or outcome.submit or outcome.seconds is not None):
        return
    target = generation_ingest if outcome.ingest else generation_submit if outcome.submit else task
    if outcome.seconds:
        target.apply_async((generation_id,), countdown=capped_delay(outcome.seconds))
    else:
        target.delay(generation_id)


@idempotent_task
def generation_submit(generation_id: int) -> None:
    from gallery.generation import submit

    _follow(generation_submit, generation_id, submit.generation_submit(generation_id=generation_id))


@idempotent_task
def generation_find_orphan(generation_id: int) -> None:
    from gallery.generation import submit

    outcome = submit.generation_find_orphan(generation_id=generation_id)
    _follow(generation_find_orphan, generation_id, outcome)


@idempotent_task
def generation_ingest(generation_id: int) -> None:
    from gallery.generation import ingest

    _follow(generation_ingest, generation_id, ingest.generation_ingest(generation_id=generation_id))


@idempotent_task
def image_preview_make(image_id: int, waited: float = 0.0) -> None:
    """The preview rendition of a stored image (``settings.CELERY_PREVIEW_QUEUE``), once no
    result is being ingested (or it has waited long enough: ``ingest.preview_wait``)."""
    from gallery.generation import ingest

    wait = ingest.preview_wait(waited=waited)
    if wait is not None:
        image_preview_make.apply_async((image_id, waited + wait), countdown=capped_delay(wait))
        return
    ingest.image_preview_make(image_id=image_id)


@idempotent_task
def generation_cancel(generation_id: int) -> None:
    from gallery.generation import retry

    retry.generation_cancel(generation_id=generation_id)


@idempotent_task
def generation_completed(upstream_id: str, status: str, url: str | None, error: str | None) -> None:
    """A completion event, handed over by the listener (``manage.py oxen_listen``). The ingest
    runs here, in the same task: one broker hop from Oxen's event to the stored image."""
    from gallery.generation import ingest, track

    outcome = track.generation_event_apply(
        upstream_id=upstream_id, status=status, url=url, error=error
    )
    if outcome.ingest and (pk := outcome.generation_id) is not None:
        _follow(generation_ingest, pk, ingest.generation_ingest(generation_id=pk))


@shared_task(acks_late=True, ignore_result=True)
def generations_sweep(catch_up: bool = False) -> None:
    """Beat runs this every two seconds; the listener sends it with ``catch_up`` when the
    event stream (re)connects or drops, to look at every generation Oxen holds at once."""
    from gallery.generation import track

    result = track.generations_sweep(catch_up=catch_up)
    for pk in result.submit + result.orphans:
        generation_submit.delay(pk)  # a row left "submitting" gets its orphan search
    for pk in result.ingest:
        generation_ingest.delay(pk)
    # An upstream job of ours that no row knows: the ledger adopts it soon, not tomorrow
    # (at most once per LEDGER_SOON seconds, however many sweeps see it).
    if result.strangers and cache.add("gallery:ledger-soon", True, timeout=LEDGER_SOON):
        generations_reconcile.delay(hours=1)


# The shortest time between two reconciliations sent by the sweep.
LEDGER_SOON = 5 * 60


@shared_task(acks_late=True, ignore_result=True)
def generations_reconcile(hours: float = 48) -> None:
    """Daily (beat): the ledger against Oxen's history (``manage.py oxen_reconcile``)."""
    from gallery.generation import ledger

    report = ledger.generations_reconcile(since=timezone.now() - timedelta(hours=hours))
    logger.info("reconciled with Oxen: %s", report.summary())


@shared_task(ignore_result=True)
def schema_refresh() -> None:
    """Beat, every few minutes: keep the stored copy of the model's schema recent, for the
    generate form and submits to fall back on while Oxen cannot be reached."""
    from gallery import oxen

    oxen.schema_refresh(model=settings.OXEN_MODEL)


@shared_task(acks_late=True, ignore_result=True)
def budget_costs_backfill() -> None:
    """Beat, every minute: billed costs Oxen did not report at ingest, asked again, and the
    budget reservations trued up to them (issue 11)."""
    from gallery.generation import track

    found = track.costs_backfill()
    if found:
        logger.info("back-filled the billed cost of %d generations", found)


@idempotent_task
def proofing_digest(link_id: int) -> None:
    """One digest email of a burst of proofing activity on a shared link (issue 16)."""
    from gallery.sharing import proofing

    proofing.proofing_digest_send(link_id=link_id)


# -- the JSON API (issue 12) ---------------------------------------------------------------------


@idempotent_task
def webhook_deliver(delivery_id: int) -> None:
    """One attempt of a webhook delivery, then itself again after the backoff (a wait longer
    than ``capped_delay`` allows comes back early, finds it not due and waits again; beat's
    ``webhooks_sweep`` is the net under a lost message)."""
    from gallery.api import webhooks

    wait = webhooks.webhook_attempt(delivery_id=delivery_id)
    if wait is not None:
        webhook_deliver.apply_async((delivery_id,), countdown=capped_delay(wait))


@shared_task(acks_late=True, ignore_result=True)
def webhooks_sweep() -> None:
    """Beat, every minute: deliveries that are due and whose task was lost."""
    from gallery.api import webhooks

    for pk in webhooks.webhooks_due():
        webhook_deliver.delay(pk)


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OSError,),  # smtplib.SMTPException and refused connections
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=10,
)
def mail_send(subject: str, body: str, recipients: list[str]) -> None:
    """One email (``gallery.mail.mail_queue``); a failing SMTP server is tried again for
    about a day. At least once: a worker killed mid-send may send it twice."""
    from django.core.mail import send_mail

    send_mail(subject, body, None, recipients)


@shared_task(ignore_result=True)
def idempotency_keys_expire() -> None:
    """Beat, hourly: forget Idempotency-Key answers older than 24 hours."""
    from gallery.api import idempotency

    idempotency.idempotency_keys_expire()
