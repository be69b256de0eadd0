"""Submitting: POST a pending generation to Oxen's queue, never twice for one image.

Budgets, each for its own risk:

* A refusal (a 429, or a connection that never opened: nothing reached Oxen) is a wait,
  honouring ``Retry-After`` with capped, jittered backoff; it is not an attempt and only the
  deadline ends it. The same goes for an outage while the request is prepared (the model's
  schema is then taken from the copy stored in the database).
* The row is committed as ``submitting`` before the POST. A row found in ``submitting``
  later (a crash, a timeout, a 5xx or HTML page after sending) is never POSTed blindly: its job
  is looked for upstream by the generation's ``target_directory``. Found: adopted. Proved
  absent (a full search after ``GENERATION_ORPHAN_GRACE_SECONDS``): sent once more, to the same
  directory, counting an attempt (``GENERATION_MAX_ATTEMPTS`` bounds them). Should two jobs
  ever appear for one directory, the ledger keeps both images (``ledger.py``)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gallery import oxen
from gallery.generation import references
from gallery.generation.create import request_body_draft
from gallery.generation.lifecycle import (
    Next,
    Status,
    deadline_message,
    fail_locked,
    generation_fail,
    generation_lock,
    record_wait,
    stale_after,
    unconfirmed_message,
    user_message,
    wait_after,
    waits_cleared,
)
from gallery.generation.models import Generation, GenerationRequest
from gallery.generation.track import apply_upstream_status, poll_interval
from gallery.media import imaging
from seedream import errors
from seedream.client import OxenClient
from seedream.responses import QueueGeneration
from seedream.schema import RequestSchema

logger = logging.getLogger(__name__)

# Between searches for an unconfirmed POST.
ORPHAN_SEARCH_EVERY = 5.0


def orphan_grace() -> timedelta:
    """How long an unconfirmed POST is looked for before its absence counts as proof."""
    return timedelta(seconds=settings.GENERATION_ORPHAN_GRACE_SECONDS)


def generation_submit(*, generation_id: int) -> Next:
    """POST one pending generation to Oxen's queue; for a row left ``submitting``, find what
    became of its POST instead."""
    generation = Generation.objects.select_related("request").filter(pk=generation_id).first()
    if generation is None:
        return Next.done()
    if generation.status == Status.SUBMITTING:
        return _orphan_search(generation_id)
    if generation.status != Status.PENDING:
        return Next.done()
    if timezone.now() >= generation.deadline_at:
        generation_fail(generation_id=generation_id, message=deadline_message())
        return Next.done()
    # Everything that can be slow or fail happens before "submitting" is committed, so the
    # window in which a crash leaves the outcome unknown is only the POST itself.
    try:
        body, recorded = submit_body(generation)
    except imaging.ImageRejected as exc:
        generation_fail(generation_id=generation_id, message=user_message(exc))
        return Next.done()
    except errors.OxenError as exc:
        if not exc.retryable:  # a request the schema refuses, a wrong key: nothing was sent
            generation_fail(generation_id=generation_id, message=user_message(exc))
            return Next.done()
        return _wait_pending(generation_id, exc)  # Oxen unreachable while preparing: wait

    with transaction.atomic():
        locked = generation_lock(generation_id)
        if locked is None or locked.status != Status.PENDING:
            return Next.done()
        locked.transition_to(Status.SUBMITTING)
        locked.attempts += 1  # given back below if Oxen refuses it
        locked.submitted_at = timezone.now()
        locked.save()

    try:
        queued = oxen.get_client().queue_submit(body, validate=False, retries=0)
    except errors.OxenError as exc:
        if exc.is_refusal:  # a 429, or nothing reached Oxen: safe to send again, later
            return _back_to_pending(generation_id, exc)
        if exc.category == "ambiguous" or exc.retryable:
            # Oxen may have accepted it. Never POST blindly: look for it upstream.
            record_wait(generation_id, exc)
            return Next(seconds=ORPHAN_SEARCH_EVERY)
        generation_fail(generation_id=generation_id, message=user_message(exc))
        return Next.done()
    _record_submitted(generation_id, queued[0].generation_id, recorded)
    return Next.done()


def _record_submitted(generation_id: int, upstream_id: str, recorded: dict[str, Any]) -> None:
    """Store Oxen's id for a POSTed generation (a crash just before this is what the orphan
    search exists for)."""
    with transaction.atomic():
        locked = generation_lock(generation_id)
        if locked is None or locked.status != Status.SUBMITTING:
            return
        locked.upstream_id = upstream_id
        locked.upstream_status = "queued"
        locked.transition_to(Status.QUEUED)
        locked.next_check_at = timezone.now() + poll_interval()
        locked.last_error = ""
        waits_cleared(locked)
        locked.save()
        if not locked.request.request_body:
            GenerationRequest.objects.filter(pk=locked.request_id).update(request_body=recorded)


def submit_body(generation: Generation) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body to POST (shaped by the model's schema: live, else the stored copy, else the
    one the request was validated against) and the copy kept for the record, where inline
    data URIs are replaced by a short marker naming the reference's hash."""
    request = generation.request
    refs = request.ordered_references()
    hosted = [references.reference_value_for_oxen(ref) for ref in refs]
    draft = request_body_draft(
        model=request.model,
        prompt=request.prompt,
        parameters=request.parameters,
        reference_values=[value for value, _ in hosted],
    )
    draft["num_generations"] = 1
    draft["target_directory"] = generation.target_directory
    if settings.OXEN_TARGET_NAMESPACE:
        draft["target_namespace"] = settings.OXEN_TARGET_NAMESPACE
    body = oxen.get_client().prepare_request(draft, schema=_schema_for(request))
    replacements = {value: marker for value, marker in hosted}
    recorded = {key: _replace_values(value, replacements) for key, value in body.items()}
    return dict(body), recorded


def _schema_for(request: GenerationRequest) -> RequestSchema:
    read = oxen.schema_read(model=request.model)
    if read.schema is not None:
        return read.schema
    assert read.error is not None
    if read.error.retryable and request.request_schema:
        # Nothing stored for this model (yet): the schema the request was validated against.
        return RequestSchema(request.request_schema)
    raise read.error


def _replace_values(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        return replacements.get(value, value)
    if isinstance(value, list):
        return [_replace_values(item, replacements) for item in value]
    return value


def _wait_pending(generation_id: int, exc: errors.OxenError) -> Next:
    """A pending row waits; the sweep re-drives it if its task is lost meanwhile."""
    wait = record_wait(generation_id, exc)
    Generation.objects.filter(pk=generation_id, status=Status.PENDING).update(
        next_check_at=timezone.now() + timedelta(seconds=wait) + stale_after()
    )
    return Next(seconds=wait)


def _back_to_pending(generation_id: int, exc: errors.OxenError) -> Next:
    """Oxen refused the POST (nothing was created): pending again, the attempt given back."""
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None or generation.status != Status.SUBMITTING:
            return Next.done()
        generation.transition_to(Status.PENDING)
        generation.attempts = max(0, generation.attempts - 1)
        generation.waits += 1
        generation.last_error = user_message(exc)
        wait = wait_after(exc, generation.waits)
        generation.next_check_at = timezone.now() + timedelta(seconds=wait) + stale_after()
        generation.save()
    return Next(seconds=wait)


def generation_find_orphan(*, generation_id: int) -> Next:
    """For a row left in ``submitting``: find what Oxen made of the POST, without POSTing."""
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None or generation.status != Status.SUBMITTING:
            return Next.done()
    return _orphan_search(generation_id)


def _orphan_search(generation_id: int) -> Next:
    generation = Generation.objects.get(pk=generation_id)
    client = oxen.get_client()
    try:
        found = find_upstream_by_directory(client, generation.target_directory)
    except errors.OxenError as exc:
        # Not a proof of anything: search again, at the usual pace (or Retry-After's).
        record_wait(generation_id, exc)
        return Next(seconds=max(ORPHAN_SEARCH_EVERY, exc.retry_after or 0.0))
    if found is None:
        started = generation.submitted_at or generation.created_at
        if timezone.now() - started < orphan_grace():
            return Next(seconds=ORPHAN_SEARCH_EVERY)
        return _resubmit_proved_absent(generation_id)
    with transaction.atomic():
        locked = generation_lock(generation_id)
        if locked is None or locked.status != Status.SUBMITTING:
            return Next.done()
        locked.upstream_id = found.generation_id
        locked.transition_to(Status.QUEUED)
        locked.next_check_at = timezone.now()
        locked.last_error = ""
        waits_cleared(locked)
        locked.save()
    logger.info(
        "generation %s: found its upstream job %s", generation.public_id, found.generation_id
    )
    return apply_upstream_status(generation_id=generation_id, upstream=found)


def _resubmit_proved_absent(generation_id: int) -> Next:
    """A full search after the grace period found nothing: the POST created nothing, so the
    image is sent again, to the same directory (within GENERATION_MAX_ATTEMPTS)."""
    with transaction.atomic():
        locked = generation_lock(generation_id)
        if locked is None or locked.status != Status.SUBMITTING:
            return Next.done()
        if locked.attempts >= settings.GENERATION_MAX_ATTEMPTS:
            fail_locked(locked, unconfirmed_message(locked.attempts))
            return Next.done()
        locked.transition_to(Status.PENDING)
        locked.last_error = (
            "Oxen did not confirm the request and it is not there, so it is being sent again."
        )
        locked.next_check_at = timezone.now() + stale_after()
        locked.save()
    logger.info("generation %s: proved absent upstream; sending it again", generation_id)
    return Next(seconds=0, submit=True)


def find_upstream_by_directory(client: OxenClient, directory: str) -> QueueGeneration | None:
    """The upstream generation tagged with ``directory``: the active queue first, then the
    history (every status, every page). Both listings must answer in full, so ``None`` is a
    proof of absence, never a partial look (two calls, where the queue's per-status listings
    took four: fewer chances for a flaky Oxen to leave the question open)."""
    for row in client.queue_list(folder=directory, retries=0).generations:
        if row.target_directory == directory:
            return row
    for row in client.generations_iter(folder=directory, page_size=50, retries=0):
        if row.target_directory == directory:
            return row
    return None
