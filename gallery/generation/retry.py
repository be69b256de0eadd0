"""Cancelling a generation in flight, and retrying a failed or cancelled one: a result Oxen
made (and billed) is downloaded again on the same row; anything else becomes a new row, through
the same budget check as a new request. Approving or declining one the budget held."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gallery import oxen, tasks
from gallery.accounts.models import User
from gallery.budget.models import Reservation
from gallery.budget.services import budget_check, budget_reserve, reservations_settle
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
        if generation.status in (Status.PENDING, Status.AWAITING_APPROVAL):
            generation.transition_to(Status.CANCELLED)
            generation.save()
            reservations_settle(generation_ids=[generation.pk])  # nothing was sent: released
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
        reservations_settle(generation_ids=[generation.pk])
    return True


# -- retrying ------------------------------------------------------------------------------------


class RetryRefused(ApplicationError):
    """Only a failed or cancelled generation can be retried."""


def generation_retry(*, generation_id: int, by: User | None = None) -> Generation:
    """Try a failed or cancelled generation again. A result Oxen made (and billed) is
    downloaded again, on the same row, with a fresh deadline: never generated (and paid for)
    twice. Anything else becomes a NEW generation of the same request: the old row keeps its
    error and its history, and the new one is submitted after commit. A new one goes through
    the budget check as ``by`` (the request's author by default): refused (``BudgetExceeded``)
    or held for approval as a new request would be."""
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
        request = old.request
        decision = budget_check(
            team=old.team,
            member=by or request.author,
            images=1,
            cost_per_image=_price(request.model, old),
        )
        retry = Generation(
            request_id=old.request_id,
            team_id=old.team_id,
            index=(last or 0) + 1,
            deadline_at=deadline,
            next_check_at=now + stale_after(),
            transitions=[[Status.PENDING, now.isoformat()]],
        )
        if decision.needs_approval:
            retry.transition_to(Status.AWAITING_APPROVAL, now=now)
            retry.last_error = decision.approval_reason
            retry.save()
            return retry
        retry.save()
        budget_reserve(decision=decision, generations=[retry])
        transaction.on_commit(lambda: tasks.generation_submit.delay(retry.pk))
    return retry


def _price(model: str, generation: Generation) -> Decimal | None:
    """The live (or stored) schema's price per image for ``model`` at this request's size;
    while neither can be had, what this request's images were reserved at (None if nothing
    says: the check then refuses only if a money limit applies)."""
    read = oxen.schema_read(model=model, timeout=oxen.FORM_SCHEMA_TIMEOUT, store=False)
    if read.schema is not None:
        return read.schema.price_for(generation.request.parameters)
    return (
        Reservation.objects.filter(generation__request_id=generation.request_id)
        .values_list("estimate", flat=True)
        .first()
    )


# -- approval ------------------------------------------------------------------------------------


class ApprovalRefused(ApplicationError):
    """Only a generation waiting for approval can be approved or declined."""


def generation_approve(*, generation_id: int, by: User) -> Generation:
    """An owner or admin approves a request the budget's approval threshold held: it is
    checked again against every hard limit (the threshold aside), reserved and sent."""
    now = timezone.now()
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None or generation.status != Status.AWAITING_APPROVAL:
            raise ApprovalRefused("Only an image waiting for approval can be approved.")
        request = generation.request
        decision = budget_check(
            team=generation.team,
            member=request.author,
            images=1,
            cost_per_image=_price(request.model, generation),
            approved=True,
        )
        generation.transition_to(Status.PENDING, now=now)
        generation.deadline_at = now + timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES)
        generation.next_check_at = now + stale_after()
        generation.last_error = ""
        generation.save()
        budget_reserve(decision=decision, generations=[generation])
        transaction.on_commit(lambda: tasks.generation_submit.delay(generation.pk))
    return generation


DECLINE_REASON_MAX_CHARS = 200  # the tile's field says so too


def generation_decline(*, generation_id: int, by: User, reason: str = "") -> Generation:
    """An owner or admin declines a held request: cancelled, nothing sent, and the tile says
    who declined it and why."""
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None or generation.status != Status.AWAITING_APPROVAL:
            raise ApprovalRefused("Only an image waiting for approval can be declined.")
        generation.transition_to(Status.CANCELLED)
        reason = reason.replace("\x00", "").strip()[:DECLINE_REASON_MAX_CHARS]
        why = f": {reason}" if reason else "."
        generation.last_error = f"Declined by {by.get_username()}{why}"[:1000]
        generation.save()
    return generation
