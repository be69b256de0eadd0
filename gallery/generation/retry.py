"""Cancelling a generation in flight, and retrying a failed or cancelled one: a result Oxen
made (and billed) is downloaded again on the same row; anything else becomes a new row."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gallery import oxen, tasks
from gallery.errors import ApplicationError
from gallery.generation.lifecycle import Status, generation_lock, record_error, stale_after
from gallery.generation.models import Generation
from gallery.generation.track import apply_upstream_status
from seedream import errors

# -- cancelling ----------------------------------------------------------------------------------


def generation_cancel(*, generation_id: int) -> bool:
    """Cancel a generation that has not finished. Returns whether it is now cancelled."""
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None:
            return False
        if generation.status == Status.PENDING:
            generation.transition_to(Status.CANCELLED)
            generation.save()
            return True
        if generation.status not in Generation.UPSTREAM_ACTIVE or not generation.upstream_id:
            return False
        upstream_id = generation.upstream_id
    client = oxen.get_client()
    try:
        client.queue_cancel(upstream_id)
    except errors.OxenError as exc:
        record_error(generation_id, exc)
        return False
    try:
        # Cancelling a finished job is a no-op upstream: if Oxen made the image, keep it.
        upstream = client.queue_get(upstream_id, retries=0, timeout=5.0)
    except errors.OxenError:
        upstream = None
    if upstream is not None and upstream.status == "succeeded":
        if apply_upstream_status(generation_id=generation_id, upstream=upstream).ingest:
            transaction.on_commit(lambda: tasks.generation_ingest.delay(generation_id))
        return False
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None or generation.status not in Generation.UPSTREAM_ACTIVE:
            return False
        generation.transition_to(Status.CANCELLED)
        generation.save()
    return True


# -- retrying ------------------------------------------------------------------------------------


class RetryRefused(ApplicationError):
    """Only a failed or cancelled generation can be retried."""


def generation_retry(*, generation_id: int) -> Generation:
    """Try a failed or cancelled generation again. A result Oxen made (and billed) is
    downloaded again, on the same row, with a fresh deadline: never generated (and paid for)
    twice. Anything else becomes a NEW generation of the same request: the old row keeps its
    error and its history, and the new one is submitted after commit."""
    now = timezone.now()
    deadline = now + timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES)
    with transaction.atomic():
        old = generation_lock(generation_id)
        if old is None or old.status not in (Status.FAILED, Status.CANCELLED):
            raise RetryRefused("Only a failed or cancelled image can be retried.")
        if old.result_billed and old.upstream_id:
            old.transition_to(Status.DOWNLOADING)
            old.deadline_at = deadline
            old.last_error = ""
            old.waits = 0
            old.save()
            transaction.on_commit(lambda: tasks.generation_ingest.delay(old.pk))
            return old
        last = (
            Generation.objects.filter(request_id=old.request_id)
            .order_by("-index")
            .values_list("index", flat=True)
            .first()
        )
        retry = Generation.objects.create(
            request_id=old.request_id,
            team_id=old.team_id,
            index=(last or 0) + 1,
            deadline_at=deadline,
            next_check_at=now + stale_after(),
            transitions=[[Status.PENDING, now.isoformat()]],
        )
        transaction.on_commit(lambda: tasks.generation_submit.delay(retry.pk))
    return retry
