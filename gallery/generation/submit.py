"""Submitting: POST a pending generation to Oxen's queue, at most once.

The row is committed as ``submitting`` before the POST; a row found in ``submitting``
later (a crash, a timeout, an ambiguous answer) is never POSTed again: its orphan is
looked for upstream by the per-generation ``target_directory``, and if it cannot be found
the generation ends ``failed`` with a clear message."""

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
    attempts_message,
    backoff,
    deadline_message,
    fail_locked,
    generation_fail,
    generation_lock,
    record_error,
    stale_after,
    user_message,
)
from gallery.generation.models import Generation, GenerationRequest
from gallery.generation.track import apply_upstream_status, poll_interval
from gallery.media import imaging
from seedream import errors
from seedream.responses import QueueGeneration

logger = logging.getLogger(__name__)

# An ambiguous submit is looked for upstream for this long before the generation is failed.
ORPHAN_GRACE = timedelta(seconds=60)


def generation_submit(*, generation_id: int) -> Next:
    """POST one pending generation to Oxen's queue, once."""
    generation = Generation.objects.select_related("request").filter(pk=generation_id).first()
    if generation is None:
        return Next.done()
    if generation.status == Status.PENDING:
        # Everything that can be slow or fail happens before "submitting" is committed, so the
        # window in which a crash leaves the outcome unknown is only the POST itself.
        try:
            body, recorded = submit_body(generation)
        except (imaging.ImageRejected, errors.OxenError) as exc:
            # A bad reference or a request the live schema refuses: nothing was sent.
            generation_fail(generation_id=generation_id, message=user_message(exc))
            return Next.done()
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None:
            return Next.done()
        left_submitting = generation.status == Status.SUBMITTING
        if generation.status == Status.PENDING:
            if timezone.now() >= generation.deadline_at:
                fail_locked(generation, deadline_message())
                return Next.done()
            if generation.attempts >= settings.GENERATION_MAX_ATTEMPTS:
                fail_locked(generation, attempts_message(generation.last_error))
                return Next.done()
            generation.transition_to(Status.SUBMITTING)
            generation.attempts += 1
            generation.submitted_at = timezone.now()
            generation.save()
    if left_submitting:
        # An earlier run committed "submitting" and never recorded Oxen's answer.
        return _orphan_search_now(generation_id)
    if generation.status != Status.SUBMITTING:
        return Next.done()

    client = oxen.get_client()
    try:
        queued = client.queue_submit(body, validate=False, retries=0)
    except errors.RateLimitedError as exc:
        # 429: Oxen did not accept it, so it is safe to send again later.
        return _back_to_pending(generation_id, exc, wait=exc.retry_after or 5.0)
    except errors.ConnectFailedError as exc:
        # Nothing reached Oxen.
        return _back_to_pending(generation_id, exc, wait=backoff(generation.attempts))
    except (errors.AmbiguousSubmitError, errors.TransientError) as exc:
        # Oxen may have accepted it. Never POST again: look for it upstream.
        record_error(generation_id, exc)
        return Next(seconds=5)
    except errors.OxenError as exc:
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
        locked.transition_to(Status.QUEUED)
        locked.next_check_at = timezone.now() + poll_interval(locked)
        locked.last_error = ""
        locked.save()
        if not locked.request.request_body:
            GenerationRequest.objects.filter(pk=locked.request_id).update(request_body=recorded)


def submit_body(generation: Generation) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body to POST (shaped by the live schema) and the copy kept for the record, where
    inline data URIs are replaced by a short marker naming the reference's hash."""
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
    body = oxen.get_client().prepare_request(draft, schema=oxen.get_schema(model=request.model))
    replacements = {value: marker for value, marker in hosted}
    recorded = {key: _replace_values(value, replacements) for key, value in body.items()}
    return dict(body), recorded


def _replace_values(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        return replacements.get(value, value)
    if isinstance(value, list):
        return [_replace_values(item, replacements) for item in value]
    return value


def _back_to_pending(generation_id: int, exc: errors.OxenError, *, wait: float) -> Next:
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None or generation.status != Status.SUBMITTING:
            return Next.done()
        generation.transition_to(Status.PENDING)
        generation.last_error = user_message(exc)
        generation.next_check_at = timezone.now() + timedelta(seconds=wait) + stale_after()
        generation.save()
    return Next(seconds=wait)


def generation_find_orphan(*, generation_id: int) -> Next:
    """For a row left in ``submitting``: find what Oxen made of the POST, without POSTing."""
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None or generation.status != Status.SUBMITTING:
            return Next.done()
    return _orphan_search_now(generation_id)


def _orphan_search_now(generation_id: int) -> Next:
    generation = Generation.objects.get(pk=generation_id)
    client = oxen.get_client()
    try:
        found = find_upstream_by_directory(client, generation.target_directory)
    except errors.OxenError as exc:
        record_error(generation_id, exc)
        return Next(seconds=10)
    if found is None:
        started = generation.submitted_at or generation.created_at
        if timezone.now() - started < ORPHAN_GRACE:
            return Next(seconds=10)
        generation_fail(
            generation_id=generation_id,
            message=(
                "Oxen did not confirm this request and it cannot be found there, so it was not "
                "sent again (that could have charged you twice). Use Retry to submit it anew."
            ),
        )
        return Next.done()
    with transaction.atomic():
        locked = generation_lock(generation_id)
        if locked is None or locked.status != Status.SUBMITTING:
            return Next.done()
        locked.upstream_id = found.generation_id
        locked.transition_to(Status.QUEUED)
        locked.next_check_at = timezone.now()
        locked.save()
    logger.info(
        "generation %s: found its upstream job %s", generation.public_id, found.generation_id
    )
    return apply_upstream_status(generation_id=generation_id, upstream=found)


def find_upstream_by_directory(client: Any, directory: str) -> QueueGeneration | None:
    """The upstream generation tagged with ``directory``: active ones first, then finished."""
    for status in (None, "succeeded", "failed", "cancelled"):
        listing = client.queue_list(folder=directory, status=status)
        for row in listing.generations:
            if row.target_directory == directory:
                return row  # type: ignore[no-any-return]
    return None
