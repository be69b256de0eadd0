"""Tracking: bring rows in line with what Oxen says (events, polls) and the periodic sweep
that polls, catches up, re-drives lost tasks and ends overdue generations.

Polling costs one ``GET /api/ai/queue`` per sweep however many rows are due, plus one status
call per row that has left the active list (it finished: that read is needed anyway). So
while the event stream is down, rows are polled every few seconds; while it is up, events
bring completions within a second and the poll is a slow safety net. A catch-up looks at
every row Oxen holds at once, due or not: on every (re)connect of the stream, when it goes
down, and when the listener stops saying it is up (a killed listener)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gallery import oxen
from gallery.budget.services import reservations_settle
from gallery.generation import lifecycle
from gallery.generation.ingest import result_cost
from gallery.generation.lifecycle import Next, Status
from gallery.generation.models import Generation, directory_ids
from seedream import errors
from seedream.responses import QueueGeneration

logger = logging.getLogger(__name__)

# Polling cadence for generations Oxen is working on. Without the stream: at every sweep (beat
# runs it every 2 s); one list call covers every row, so polling often costs one call per
# sweep, not one per row. With the stream up the poll is only a slow safety net.
POLL_WITHOUT_STREAM = timedelta(seconds=1.5)
POLL_MAX_WITH_STREAM = timedelta(seconds=30)
# Set while the sweep has seen the stream up; its disappearance means a catch-up is due.
_STREAM_SEEN_KEY = "oxen:sweep-saw-stream"
# A job that has just left Oxen's active list finished, and with the stream up its event is on
# the way (behind the other completions of a burst, it may wait in the ingest queue a few
# seconds). The sweep gives the event this long before it asks Oxen about that row itself:
# asking at once would mark the row and queue a second ingest task next to the event's, which
# is what a burst of completions could least afford (issue 15). A lost event costs this much
# more latency, no image: the status call follows at the first sweep after it.
EVENT_GRACE = timedelta(seconds=15)
_LEFT_QUEUE_KEY = "gallery:left-queue:{pk}"


def apply_upstream_status(*, generation_id: int, upstream: QueueGeneration) -> Next:
    """Bring the row in line with what Oxen says; ask for an ingest when it succeeded."""
    with transaction.atomic():
        generation = lifecycle.generation_lock(generation_id)
        if generation is None or generation.status not in Generation.UPSTREAM_ACTIVE:
            return Next.done()
        generation.upstream_status = upstream.status
        if upstream.status == "succeeded":
            _mark_made(generation, upstream.result_url)
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
        generation.next_check_at = timezone.now() + poll_interval()
        generation.save()
    return Next.done()


def generation_event_apply(
    *, upstream_id: str, status: str, url: str | None, error: str | None
) -> Next:
    """A ``media_generation_completed`` event, handed over by the listener."""
    with transaction.atomic():
        locked = Generation.objects.select_for_update().filter(upstream_id=upstream_id).first()
        # None: not ours (another app using the same key).
        if locked is None or locked.status not in Generation.UPSTREAM_ACTIVE:
            return Next.done()
        if status == "succeeded":
            locked.upstream_status = status
            _mark_made(locked, url)
            return Next(ingest=True, generation_id=locked.pk)
        if status == "failed":
            locked.upstream_status = status
            lifecycle.fail_locked(locked, lifecycle.upstream_failure_message(error))
    return Next.done()


def _mark_made(generation: Generation, url: str | None) -> None:
    """Oxen made (and billed) the image: the row says so at once, so whatever becomes of the
    download, nothing forgets it is there to fetch (saved here)."""
    generation.result_url = url or ""
    generation.transition_to(Status.DOWNLOADING)
    generation.last_error = ""
    lifecycle.waits_cleared(generation)
    generation.save()


def poll_interval() -> timedelta:
    """How long until the next status look. With the listener up, events bring completions
    within a second and the poll is a slow safety net; without it, at the next sweep (one
    list call covers every row; a row costs a call of its own only once it has finished)."""
    if oxen.event_stream_connected():
        return POLL_MAX_WITH_STREAM
    return POLL_WITHOUT_STREAM


@dataclass(frozen=True)
class SweepResult:
    submit: list[int]
    orphans: list[int]
    ingest: list[int]
    checked: int
    # Jobs in Oxen's active queue under our directories that no row knows: a POST thought
    # absent that reached Oxen after all. The ledger adopts them (keeping both images).
    strangers: int = 0


def generations_sweep(*, limit: int = 1000, catch_up: bool = False) -> SweepResult:
    """The periodic safety net (beat): poll due generations with one list call, re-drive rows
    whose task was lost, and end anything past its deadline. ``catch_up`` polls every row Oxen
    holds, due or not (the event stream reconnected, or went away). Never sleeps."""
    now = timezone.now()
    catch_up = _stream_went_away() or catch_up
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
    # Driven again counts as a touch: a row whose ingest waits behind a long queue (a burst of
    # completions) gets one more message per stale period, not one at every sweep.
    Generation.objects.filter(pk__in=ingest).update(updated_at=now)
    active = Generation.objects.filter(status__in=Generation.UPSTREAM_ACTIVE)
    if not catch_up:
        active = active.filter(next_check_at__lte=now)
    due = list(active.order_by("next_check_at").values_list("pk", "upstream_id")[:limit])
    strangers = 0
    if due:
        # Events still come (and did not go missing: a catch-up looks at once).
        polled, strangers = _poll(due, events_coming=not catch_up and oxen.event_stream_connected())
        ingest.extend(polled)
    costs_record(now)
    # Reservations of rows that ended or were billed since: charged or released.
    reservations_settle()
    return SweepResult(
        submit=submit, orphans=orphans, ingest=ingest, checked=len(due), strangers=strangers
    )


# A stored image whose cost Oxen did not report at ingest is asked about again this often, for
# this long (the ledger corrects any that remain, daily).
COST_RETRY_EVERY = timedelta(seconds=30)
COST_RETRY_FOR = timedelta(days=1)


def costs_record(now: datetime, *, limit: int = 10) -> None:
    """Ask Oxen for the cost of a few stored images that do not have it yet."""
    missing = list(
        Generation.objects.filter(
            status=Status.SUCCEEDED,
            cost__isnull=True,
            upstream_id__isnull=False,
            finished_at__gte=now - COST_RETRY_FOR,
            updated_at__lte=now - COST_RETRY_EVERY,
        ).values_list("pk", "upstream_id")[:limit]
    )
    if not missing:
        return
    client = oxen.get_client()
    for pk, upstream_id in missing:
        cost = result_cost(client, upstream_id)
        Generation.objects.filter(pk=pk, cost__isnull=True).update(
            cost=cost, updated_at=timezone.now()
        )
    reservations_settle(generation_ids=[pk for pk, _ in missing])


# The periodic back-fill (beat's ``budget_costs_backfill``, every minute) reaches further back
# than the sweep, and covers billed results whose download failed too.
COST_BACKFILL_FOR = timedelta(days=31)


def costs_backfill(*, limit: int = 50) -> int:
    """Ask Oxen for the billed cost of results it made (stored or not) whose cost is still
    unknown, oldest look first, then true up their reservations. Returns how many were found."""
    now = timezone.now()
    missing = list(
        Generation.objects.filter(
            cost__isnull=True,
            upstream_id__isnull=False,
            upstream_status="succeeded",
            created_at__gte=now - COST_BACKFILL_FOR,
            updated_at__lte=now - COST_RETRY_EVERY,
        )
        .order_by("updated_at")
        .values_list("pk", "upstream_id")[:limit]
    )
    found = 0
    if missing:
        client = oxen.get_client()
        for pk, upstream_id in missing:
            cost = result_cost(client, upstream_id)
            found += cost is not None
            # Touched either way, so the next run asks about others first.
            Generation.objects.filter(pk=pk, cost__isnull=True).update(
                cost=cost, updated_at=timezone.now()
            )
    # Every unsettled reservation of a billed result, this run's and any left behind.
    reservations_settle(billed_unknown=True)
    return found


def _stream_went_away() -> bool:
    """True once after the listener stopped saying its stream is up: rows were scheduled for
    the slow safety-net poll, so they are all looked at now."""
    if oxen.event_stream_connected():
        cache.set(_STREAM_SEEN_KEY, True, timeout=None)
        return False
    if cache.get(_STREAM_SEEN_KEY):
        cache.delete(_STREAM_SEEN_KEY)
        logger.info("the event stream is gone: polling every generation in flight")
        return True
    return False


def _poll(
    due: Sequence[tuple[int, str | None]], *, events_coming: bool = False
) -> tuple[list[int], int]:
    """One ``GET /api/ai/queue`` for every due row; a status call only for rows that left it
    (with ``events_coming``, only once ``EVENT_GRACE`` has passed without their event).
    Returns the rows to ingest and how many active jobs of ours no row knows."""
    client = oxen.get_client()
    try:
        active = {row.generation_id: row for row in client.queue_list(retries=0).generations}
    except errors.OxenError as exc:
        logger.warning("polling Oxen failed: %s", exc)
        later = timezone.now() + timedelta(seconds=lifecycle.wait_after(exc, 1))
        Generation.objects.filter(pk__in=[pk for pk, _ in due]).update(next_check_at=later)
        return [], 0
    ours = [job for job, row in active.items() if directory_ids(row.target_directory)]
    known = set(
        Generation.objects.filter(upstream_id__in=ours).values_list("upstream_id", flat=True)
    )
    ingest: list[int] = []
    left = [pk for pk, upstream_id in due if upstream_id and upstream_id not in active]
    waiting = _event_grace(left) if events_coming else set()
    for pk, upstream_id in due:
        if upstream_id is None or pk in waiting:
            continue
        row = active.get(upstream_id)
        if row is None:
            try:
                row = client.queue_get(upstream_id, retries=0)
            except errors.NotFoundError:
                lifecycle.generation_fail(
                    generation_id=pk, message="Oxen no longer knows this generation."
                )
                continue
            except errors.OxenError as exc:
                # Refused or failed on the way: a wait, looked at again shortly.
                wait = timedelta(seconds=lifecycle.record_wait(pk, exc))
                Generation.objects.filter(pk=pk).update(next_check_at=timezone.now() + wait)
                continue
        _count_check(pk)
        if apply_upstream_status(generation_id=pk, upstream=row).ingest:
            ingest.append(pk)
    return ingest, len(set(ours) - known)


def _event_grace(left: list[int]) -> set[int]:
    """Of the rows whose job has just left Oxen's active list, those seen leaving for the first
    time: they wait ``EVENT_GRACE`` for their completion event (due again after it)."""
    if not left:
        return set()
    seen = cache.get_many([_LEFT_QUEUE_KEY.format(pk=pk) for pk in left])
    first = [pk for pk in left if _LEFT_QUEUE_KEY.format(pk=pk) not in seen]
    if first:
        grace = EVENT_GRACE.total_seconds()
        cache.set_many({_LEFT_QUEUE_KEY.format(pk=pk): True for pk in first}, timeout=grace * 4)
        Generation.objects.filter(pk__in=first).update(next_check_at=timezone.now() + EVENT_GRACE)
    return set(first)


def _count_check(pk: int) -> None:
    # Counted in the row so the backoff survives restarts.
    Generation.objects.filter(pk=pk).update(checks=F("checks") + 1)


def _fail_overdue(now: datetime) -> None:
    overdue = Generation.objects.filter(
        status__in=Generation.IN_FLIGHT, deadline_at__lte=now
    ).values_list("pk", "upstream_id", "status")
    for pk, upstream_id, status in overdue:
        if status == Status.DOWNLOADING:
            # Oxen made it: the row stays recoverable (Retry download), never re-generated.
            reason = "it did not finish downloading in time."
            lifecycle.generation_fail(
                generation_id=pk, message=lifecycle.billed_failure_message(reason)
            )
            continue
        if upstream_id and status in Generation.UPSTREAM_ACTIVE:
            try:
                oxen.get_client().queue_cancel(upstream_id, retries=0)
            except errors.OxenError as exc:
                logger.warning("could not cancel overdue generation %s: %s", upstream_id, exc)
        lifecycle.generation_fail(generation_id=pk, message=lifecycle.deadline_message())
