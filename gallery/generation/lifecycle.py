"""What every phase of the pipeline shares: the locked read of a row, failing it, the
answer a service gives its task (``Next``), backoff and the messages people read.

The ``Generation`` row is the source of truth. Each service takes ids, re-reads the row
under ``select_for_update`` and changes it only from the states it expects (through
``Generation.transition_to``, which enforces ``ALLOWED_TRANSITIONS``), so running any of
them twice, or after a crash, changes nothing that was already done. Nothing sleeps: a
service that must look again later returns how long to wait, and its task reschedules
itself."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gallery.api import webhooks
from gallery.budget.services import reservations_settle
from gallery.generation.models import Generation

logger = logging.getLogger(__name__)

Status = Generation.Status


@dataclass(frozen=True)
class Next:
    """What a task should do after a service ran: nothing, or a step now or in ``seconds``:
    the same step again, the ingest (``ingest``) or the submit (``submit``). ``preview``: a
    stored image whose preview rendition is to be made next, on its own queue.
    ``generation_id``: the row it is about, from a service that found the row itself (an
    event names Oxen's id, not ours)."""

    seconds: float | None = None
    ingest: bool = False
    submit: bool = False
    preview: int | None = None
    generation_id: int | None = None

    @classmethod
    def done(cls) -> Next:
        return cls()


def stale_after() -> timedelta:
    """How long a row may wait in pending, submitting or downloading before the sweep assumes
    its task was lost and drives it again (every step is safe to run twice)."""
    return timedelta(seconds=settings.GENERATION_STALE_SECONDS)


def fail_locked(generation: Generation, message: str) -> None:
    generation.transition_to(Status.FAILED)
    generation.last_error = message
    generation.save()
    reservations_settle(generation_ids=[generation.pk])  # released, or charged if billed
    generation_finished(generation)
    logger.info("generation %s failed: %s", generation.public_id, message)


def generation_finished(generation: Generation) -> None:
    """A generation reached succeeded or failed (saved, inside the transaction that moved it):
    the team's webhooks hear of it once that transaction commits."""
    webhooks.generation_finished(generation)


def generation_lock(generation_id: int) -> Generation | None:
    return Generation.objects.select_for_update().filter(pk=generation_id).first()


def generation_fail(*, generation_id: int, message: str) -> None:
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation and not generation.is_terminal:
            fail_locked(generation, message)


def record_error(generation_id: int, exc: Exception) -> None:
    Generation.objects.filter(pk=generation_id).update(
        last_error=user_message(exc), updated_at=timezone.now()
    )


def record_wait(generation_id: int, exc: Exception) -> float:
    """A step was refused or failed on the way: note why (in words that say it will be tried
    again, which it will) and return how long to wait. Never an attempt: only the deadline
    ends a generation that keeps waiting."""
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None:
            return 0.0
        generation.waits += 1
        generation.last_error = user_message(exc)
        generation.save(update_fields=["waits", "last_error", "updated_at"])
    return wait_after(exc, generation.waits)


def waits_cleared(generation: Generation) -> None:
    """The step made progress: the next refusal starts the backoff over (unsaved)."""
    generation.waits = 0


# -- messages and timing -------------------------------------------------------------------------

# Waits after a refusal or a failure on the way: full jitter over 1, 2, 4 ... s, capped at
# WAIT_MAX, and never shorter than the server's Retry-After. The cap stays far below the
# stale re-drive time, so a waiting row is never mistaken for a lost one.
WAIT_FIRST = 1.0
WAIT_MAX = 30.0


def wait_after(exc: Exception, waits: int) -> float:
    """How long to wait before trying again after the ``waits``-th refusal or failure."""
    ceiling = min(WAIT_MAX, WAIT_FIRST * 2 ** max(0, min(waits, 16) - 1))
    delay = random.uniform(WAIT_FIRST / 2, max(WAIT_FIRST / 2, ceiling))  # noqa: S311 - jitter
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        # A floor, spread a little so a crowd told "2 s" does not come back all at once.
        delay = max(delay, float(retry_after) * random.uniform(1.0, 1.25))  # noqa: S311
    return delay


def deadline_message() -> str:
    minutes = settings.GENERATION_DEADLINE_MINUTES
    return f"Oxen did not finish this image within {minutes} minutes, so it was stopped."


def billed_failure_message(reason: str) -> str:
    """A result Oxen made (and billed) that could not be brought home: said so, and what to
    press. Its Retry downloads the image again; it never generates a new one."""
    reason = reason.strip() or "it could not be downloaded."
    return f"Oxen made this image; downloading it failed: {reason}"


def unconfirmed_message(attempts: int) -> str:
    return (
        f"Oxen did not confirm {'any of the ' + str(attempts) if attempts > 1 else 'the'} "
        f"request{'s' if attempts > 1 else ''} for this image and none of them can be found "
        "there, so it was not sent again (that could have charged you twice). Use Retry to "
        "submit it anew."
    )


def upstream_failure_message(error: str | None) -> str:
    return (
        f"Oxen could not make this image: {error}" if error else "Oxen could not make this image."
    )


def user_message(exc: Exception) -> str:
    message = getattr(exc, "user_message", None)
    return str(message) if message else str(exc)
