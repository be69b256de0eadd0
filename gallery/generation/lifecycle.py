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
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gallery.generation.models import Generation

logger = logging.getLogger(__name__)

Status = Generation.Status


@dataclass(frozen=True)
class Next:
    """What a task should do after a service ran: nothing, or look again in ``seconds``."""

    seconds: float | None = None
    ingest: bool = False

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
    logger.info("generation %s failed: %s", generation.public_id, message)


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


# -- messages and timing -------------------------------------------------------------------------


def backoff(attempt: int) -> float:
    """Exponential backoff for attempt 1, 2, 3...: 2, 4, 8 ... capped at 60 s."""
    return float(min(60, 2 ** max(1, attempt)))


def deadline_message() -> str:
    minutes = settings.GENERATION_DEADLINE_MINUTES
    return f"Oxen did not finish this image within {minutes} minutes, so it was stopped."


def attempts_message(last_error: str) -> str:
    tail = f" The last error was: {last_error}" if last_error else ""
    return f"Gave up after {settings.GENERATION_MAX_ATTEMPTS} attempts.{tail}"


def upstream_failure_message(error: str | None) -> str:
    return (
        f"Oxen could not make this image: {error}" if error else "Oxen could not make this image."
    )


def user_message(exc: Exception) -> str:
    message = getattr(exc, "user_message", None)
    return str(message) if message else str(exc)
