"""Tracking: bring rows in line with what Oxen says (events, polls) and the periodic sweep
that re-drives lost tasks and ends overdue generations."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gallery import oxen
from gallery.generation import lifecycle
from gallery.generation.lifecycle import Next, Status
from gallery.generation.models import Generation
from seedream import errors
from seedream.responses import QueueGeneration

logger = logging.getLogger(__name__)

# Polling cadence for generations Oxen is working on. With the event stream connected the poll
# is only a safety net; without it the poll is how completions are seen.
POLL_FIRST = timedelta(seconds=3)
POLL_MAX = timedelta(seconds=15)
POLL_MAX_WITH_STREAM = timedelta(seconds=30)


def apply_upstream_status(*, generation_id: int, upstream: QueueGeneration) -> Next:
    """Bring the row in line with what Oxen says; ask for an ingest when it succeeded."""
    with transaction.atomic():
        generation = lifecycle.generation_lock(generation_id)
        if generation is None or generation.status not in Generation.UPSTREAM_ACTIVE:
            return Next.done()
        if upstream.status == "succeeded":
            generation.result_url = upstream.result_url or ""
            generation.save(update_fields=["result_url", "updated_at"])
            return Next(ingest=True)
        if upstream.status == "failed":
            lifecycle.fail_locked(
                generation, lifecycle.upstream_failure_message(upstream.error_message)
            )
            return Next.done()
        if upstream.status == "cancelled":
            generation.transition_to(Status.CANCELLED)
            generation.save()
            return Next.done()
        if upstream.status == "processing" and generation.status == Status.QUEUED:
            generation.transition_to(Status.PROCESSING)
        generation.next_check_at = timezone.now() + poll_interval(generation)
        generation.save()
    return Next.done()


def generation_event_apply(
    *, upstream_id: str, status: str, url: str | None, error: str | None
) -> Next:
    """A ``media_generation_completed`` event, handed over by the listener."""
    generation = Generation.objects.filter(upstream_id=upstream_id).only("pk").first()
    if generation is None:
        return Next.done()  # not ours (another app using the same key)
    with transaction.atomic():
        locked = lifecycle.generation_lock(generation.pk)
        if locked is None or locked.status not in Generation.UPSTREAM_ACTIVE:
            return Next.done()
        if status == "succeeded":
            locked.result_url = url or ""
            locked.save(update_fields=["result_url", "updated_at"])
            return Next(ingest=True)
        if status == "failed":
            lifecycle.fail_locked(locked, lifecycle.upstream_failure_message(error))
    return Next.done()


def poll_interval(generation: Generation) -> timedelta:
    """How long until the next status look. With the listener up, events bring completions
    within a second and the poll is a slow safety net; without it, back off from 3 s."""
    if oxen.event_stream_connected():
        return POLL_MAX_WITH_STREAM
    interval: timedelta = min(POLL_FIRST * (2 ** min(generation.checks, 8)), POLL_MAX)
    return interval


@dataclass(frozen=True)
class SweepResult:
    submit: list[int]
    orphans: list[int]
    ingest: list[int]
    checked: int


def generations_sweep(*, limit: int = 1000) -> SweepResult:
    """The periodic safety net (beat): poll due generations with one list call, re-drive rows
    whose task was lost, and end anything past its deadline. Never sleeps."""
    now = timezone.now()
    _fail_overdue(now)
    submit = list(
        Generation.objects.filter(status=Status.PENDING, next_check_at__lte=now).values_list(
            "pk", flat=True
        )[:limit]
    )
    Generation.objects.filter(pk__in=submit).update(next_check_at=now + lifecycle.stale_after())
    orphans = list(
        Generation.objects.filter(
            status=Status.SUBMITTING, updated_at__lte=now - lifecycle.stale_after()
        ).values_list("pk", flat=True)[:limit]
    )
    ingest = list(
        Generation.objects.filter(
            status=Status.DOWNLOADING, updated_at__lte=now - lifecycle.stale_after()
        ).values_list("pk", flat=True)[:limit]
    )
    due = list(
        Generation.objects.filter(
            status__in=Generation.UPSTREAM_ACTIVE, next_check_at__lte=now
        ).values_list("pk", "upstream_id")[:limit]
    )
    if due:
        ingest.extend(_poll(due))
    return SweepResult(submit=submit, orphans=orphans, ingest=ingest, checked=len(due))


def _poll(due: Sequence[tuple[int, str | None]]) -> list[int]:
    """One ``GET /api/ai/queue`` for every due row; a status call only for rows that left it."""
    client = oxen.get_client()
    try:
        active = {row.generation_id: row for row in client.queue_list().generations}
    except errors.OxenError as exc:
        logger.warning("polling Oxen failed: %s", exc)
        later = timezone.now() + POLL_MAX
        Generation.objects.filter(pk__in=[pk for pk, _ in due]).update(next_check_at=later)
        return []
    ingest: list[int] = []
    for pk, upstream_id in due:
        if upstream_id is None:
            continue
        row = active.get(upstream_id)
        if row is None:
            try:
                row = client.queue_get(upstream_id)
            except errors.NotFoundError:
                lifecycle.generation_fail(
                    generation_id=pk, message="Oxen no longer knows this generation."
                )
                continue
            except errors.OxenError as exc:
                lifecycle.record_error(pk, exc)
                Generation.objects.filter(pk=pk).update(next_check_at=timezone.now() + POLL_MAX)
                continue
        _count_check(pk)
        if apply_upstream_status(generation_id=pk, upstream=row).ingest:
            ingest.append(pk)
    return ingest


def _count_check(pk: int) -> None:
    # Counted in the row so the backoff survives restarts.
    Generation.objects.filter(pk=pk).update(checks=F("checks") + 1)


def _fail_overdue(now: datetime) -> None:
    overdue = Generation.objects.filter(
        status__in=Generation.IN_FLIGHT, deadline_at__lte=now
    ).values_list("pk", "upstream_id", "status")
    for pk, upstream_id, status in overdue:
        if upstream_id and status in Generation.UPSTREAM_ACTIVE:
            try:
                oxen.get_client().queue_cancel(upstream_id)
            except errors.OxenError as exc:
                logger.warning("could not cancel overdue generation %s: %s", upstream_id, exc)
        lifecycle.generation_fail(generation_id=pk, message=lifecycle.deadline_message())
