"""Generation services: every write that moves a generation through its life.

The ``Generation`` row is the source of truth. Each function takes ids, re-reads the row under
``select_for_update`` and changes it only from the states it expects, so running any of them
twice, or after a crash, changes nothing that was already done. Nothing here sleeps: a function
that must look again later returns how long to wait, and its Celery task reschedules itself.

The rule that matters most: a generation is POSTed to Oxen at most once. The row is committed
as ``submitting`` before the POST; a row found in ``submitting`` later (a crash, a timeout, an
ambiguous answer) is never POSTed again: its orphan is looked for upstream by the per-generation
``target_directory``, and if it cannot be found the generation ends ``failed`` with a clear
message.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gallery import imaging, media, oxen
from gallery.models import (
    GalleryImage,
    Generation,
    GenerationRequest,
    Reference,
    RequestReference,
    Team,
    Thumbnail,
    User,
)
from seedream import errors
from seedream.responses import QueueGeneration
from seedream.schema import RequestSchema

logger = logging.getLogger(__name__)

Status = Generation.Status
THUMBNAIL_WIDTHS = (400, 800, 1600)

# Polling cadence for generations Oxen is working on. With the event stream connected the poll
# is only a safety net; without it the poll is how completions are seen.
POLL_FIRST = timedelta(seconds=3)
POLL_MAX = timedelta(seconds=15)
POLL_MAX_WITH_STREAM = timedelta(seconds=30)
# An ambiguous submit is looked for upstream for this long before the generation is failed.
ORPHAN_GRACE = timedelta(seconds=60)


class GenerationInputError(Exception):
    """The request cannot be made as entered; ``by_field`` says what is wrong with each field."""

    def __init__(self, by_field: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in by_field.items()))
        self.by_field = by_field


@dataclass(frozen=True)
class Next:
    """What a task should do after a service ran: nothing, or look again in ``seconds``."""

    seconds: float | None = None
    ingest: bool = False

    @classmethod
    def done(cls) -> Next:
        return cls()


# -- creating ------------------------------------------------------------------------------------


def stale_after() -> timedelta:
    """How long a row may wait in pending, submitting or downloading before the sweep assumes
    its task was lost and drives it again (every step is safe to run twice)."""
    return timedelta(seconds=settings.GENERATION_STALE_SECONDS)


def generation_request_create(
    *,
    team: Team,
    author: User,
    prompt: str,
    parameters: dict[str, Any],
    references: Sequence[Reference],
    batch_size: int,
    schema: RequestSchema,
    model: str,
    remix_of: GenerationRequest | None = None,
) -> GenerationRequest:
    """Validate against the live schema, then create the request and one generation per image
    in one transaction; submit tasks are queued only after it commits."""
    from gallery import tasks

    if not 1 <= batch_size <= 4:
        raise GenerationInputError({"batch_size": ["Choose between 1 and 4 images."]})
    if any(ref.team_id != team.pk for ref in references):
        raise GenerationInputError({"references": ["A reference belongs to another team."]})
    draft = request_body_draft(
        model=model,
        prompt=prompt,
        parameters=parameters,
        reference_values=[f"https://references.invalid/{i}" for i in range(len(references))],
    )
    shaped = schema.shape(draft)
    problems = [*shaped.problems, *schema.validate(shaped.body)]
    if problems:
        by_field: dict[str, list[str]] = {}
        for problem in problems:
            name = (
                "references" if problem.field in {"input_image", "input_images"} else problem.field
            )
            by_field.setdefault(name or "__all__", []).append(problem.message)
        raise GenerationInputError(by_field)

    now = timezone.now()
    deadline = now + timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES)
    with transaction.atomic():
        request = GenerationRequest.objects.create(
            team=team,
            author=author,
            model=model,
            prompt=prompt,
            parameters=parameters,
            batch_size=batch_size,
            request_schema=schema.raw,
            remix_of=remix_of,
        )
        RequestReference.objects.bulk_create(
            RequestReference(request=request, reference=ref, position=position)
            for position, ref in enumerate(references, start=1)
        )
        generations = Generation.objects.bulk_create(
            Generation(
                request=request,
                team=team,
                index=index,
                deadline_at=deadline,
                next_check_at=now + stale_after(),
                transitions=[[Status.PENDING, now.isoformat()]],
            )
            for index in range(batch_size)
        )
        ids = [g.pk for g in generations]
        transaction.on_commit(lambda: [tasks.generation_submit.delay(pk) for pk in ids])
    return request


def request_body_draft(
    *, model: str, prompt: str, parameters: dict[str, Any], reference_values: Sequence[str]
) -> dict[str, Any]:
    """The request in today's names; the schema shapes it to whatever era the model declares."""
    body: dict[str, Any] = {"model": model, "prompt": prompt, **parameters}
    if reference_values:
        body["input_image"] = list(reference_values)
    return body


# -- state changes -------------------------------------------------------------------------------


def _transition(generation: Generation, status: str, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    generation.status = status
    generation.transitions = [*generation.transitions, [status, now.isoformat()]]
    if status in Generation.TERMINAL:
        generation.finished_at = now
        generation.next_check_at = None


def _fail(generation: Generation, message: str) -> None:
    _transition(generation, Status.FAILED)
    generation.last_error = message
    generation.save()
    logger.info("generation %s failed: %s", generation.public_id, message)


def _locked(generation_id: int) -> Generation | None:
    return Generation.objects.select_for_update().filter(pk=generation_id).first()


def generation_fail(*, generation_id: int, message: str) -> None:
    with transaction.atomic():
        generation = _locked(generation_id)
        if generation and not generation.is_terminal:
            _fail(generation, message)


# -- submitting ----------------------------------------------------------------------------------


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
            generation_fail(generation_id=generation_id, message=_user_message(exc))
            return Next.done()
    with transaction.atomic():
        generation = _locked(generation_id)
        if generation is None:
            return Next.done()
        left_submitting = generation.status == Status.SUBMITTING
        if generation.status == Status.PENDING:
            if timezone.now() >= generation.deadline_at:
                _fail(generation, deadline_message())
                return Next.done()
            if generation.attempts >= settings.GENERATION_MAX_ATTEMPTS:
                _fail(generation, attempts_message(generation.last_error))
                return Next.done()
            _transition(generation, Status.SUBMITTING)
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
        _record_error(generation_id, exc)
        return Next(seconds=5)
    except errors.OxenError as exc:
        generation_fail(generation_id=generation_id, message=_user_message(exc))
        return Next.done()

    _record_submitted(generation_id, queued[0].generation_id, recorded)
    return Next.done()


def _record_submitted(generation_id: int, upstream_id: str, recorded: dict[str, Any]) -> None:
    """Store Oxen's id for a POSTed generation (a crash just before this is what the orphan
    search exists for)."""
    with transaction.atomic():
        locked = _locked(generation_id)
        if locked is None or locked.status != Status.SUBMITTING:
            return
        locked.upstream_id = upstream_id
        _transition(locked, Status.QUEUED)
        locked.next_check_at = timezone.now() + poll_interval(locked)
        locked.last_error = ""
        locked.save()
        if not locked.request.request_body:
            GenerationRequest.objects.filter(pk=locked.request_id).update(request_body=recorded)


def submit_body(generation: Generation) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body to POST (shaped by the live schema) and the copy kept for the record, where
    inline data URIs are replaced by a short marker naming the reference's hash."""
    from gallery import references

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
    body = oxen.get_client().prepare_request(draft, schema=oxen.get_schema())
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
        generation = _locked(generation_id)
        if generation is None or generation.status != Status.SUBMITTING:
            return Next.done()
        _transition(generation, Status.PENDING)
        generation.last_error = _user_message(exc)
        generation.next_check_at = timezone.now() + timedelta(seconds=wait) + stale_after()
        generation.save()
    return Next(seconds=wait)


def _record_error(generation_id: int, exc: Exception) -> None:
    Generation.objects.filter(pk=generation_id).update(
        last_error=_user_message(exc), updated_at=timezone.now()
    )


def generation_find_orphan(*, generation_id: int) -> Next:
    """For a row left in ``submitting``: find what Oxen made of the POST, without POSTing."""
    with transaction.atomic():
        generation = _locked(generation_id)
        if generation is None or generation.status != Status.SUBMITTING:
            return Next.done()
    return _orphan_search_now(generation_id)


def _orphan_search_now(generation_id: int) -> Next:
    generation = Generation.objects.get(pk=generation_id)
    client = oxen.get_client()
    try:
        found = find_upstream_by_directory(client, generation.target_directory)
    except errors.OxenError as exc:
        _record_error(generation_id, exc)
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
        locked = _locked(generation_id)
        if locked is None or locked.status != Status.SUBMITTING:
            return Next.done()
        locked.upstream_id = found.generation_id
        _transition(locked, Status.QUEUED)
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


# -- tracking ------------------------------------------------------------------------------------


def apply_upstream_status(*, generation_id: int, upstream: QueueGeneration) -> Next:
    """Bring the row in line with what Oxen says; ask for an ingest when it succeeded."""
    with transaction.atomic():
        generation = _locked(generation_id)
        if generation is None or generation.status not in Generation.UPSTREAM_ACTIVE:
            return Next.done()
        if upstream.status == "succeeded":
            generation.result_url = upstream.result_url or ""
            generation.save(update_fields=["result_url", "updated_at"])
            return Next(ingest=True)
        if upstream.status == "failed":
            _fail(generation, upstream_failure_message(upstream.error_message))
            return Next.done()
        if upstream.status == "cancelled":
            _transition(generation, Status.CANCELLED)
            generation.save()
            return Next.done()
        if upstream.status == "processing" and generation.status == Status.QUEUED:
            _transition(generation, Status.PROCESSING)
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
        locked = _locked(generation.pk)
        if locked is None or locked.status not in Generation.UPSTREAM_ACTIVE:
            return Next.done()
        if status == "succeeded":
            locked.result_url = url or ""
            locked.save(update_fields=["result_url", "updated_at"])
            return Next(ingest=True)
        if status == "failed":
            _fail(locked, upstream_failure_message(error))
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
    Generation.objects.filter(pk__in=submit).update(next_check_at=now + stale_after())
    orphans = list(
        Generation.objects.filter(
            status=Status.SUBMITTING, updated_at__lte=now - stale_after()
        ).values_list("pk", flat=True)[:limit]
    )
    ingest = list(
        Generation.objects.filter(
            status=Status.DOWNLOADING, updated_at__lte=now - stale_after()
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
                generation_fail(generation_id=pk, message="Oxen no longer knows this generation.")
                continue
            except errors.OxenError as exc:
                _record_error(pk, exc)
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
        generation_fail(generation_id=pk, message=deadline_message())


# -- ingest --------------------------------------------------------------------------------------


def generation_ingest(*, generation_id: int) -> Next:
    """Download, verify and store the result with its thumbnails. Running it twice changes
    nothing: files have content-hash names and the row changes only from the states above."""
    with transaction.atomic():
        generation = _locked(generation_id)
        if generation is None or generation.status not in (
            *Generation.UPSTREAM_ACTIVE,
            Status.DOWNLOADING,
        ):
            return Next.done()
        if generation.status != Status.DOWNLOADING:
            _transition(generation, Status.DOWNLOADING)
        generation.attempts += 1
        generation.save()

    client = oxen.get_client()
    with tempfile.TemporaryDirectory(dir=media.scratch_dir()) as scratch:
        path = Path(scratch) / "result"
        try:
            _download_result(client, generation, path)
            info = imaging.result_inspect(path)
        except imaging.ImageRejected as exc:
            generation_fail(generation_id=generation_id, message=f"The result was unusable: {exc}")
            return Next.done()
        except (errors.BadContentError, errors.DownloadTooLargeError, errors.UnsafeURLError) as exc:
            # Re-downloading would give the same bytes: this result is unusable for good.
            generation_fail(generation_id=generation_id, message=f"The result was unusable: {exc}.")
            return Next.done()
        except errors.OxenError as exc:
            return _ingest_retry_later(generation_id, exc)
        thumbnails = imaging.thumbnails_make(path, widths=THUMBNAIL_WIDTHS)
        # The smallest thumbnail is enough for a placeholder and saves a second big decode.
        placeholder = imaging.placeholder_make(thumbnails[0].data)
        cost = _cost(client, generation.upstream_id)
        _store(generation_id, path, info, thumbnails, placeholder, cost)
    return Next.done()


def _download_result(client: Any, generation: Generation, path: Path) -> None:
    url = generation.result_url
    if not url:
        url = client.queue_get(generation.upstream_id).result_url or ""
    try:
        with path.open("wb") as out:
            client.download_result(url, out)
    except errors.ResultExpiredError:
        # Presigned URLs expire; the status call mints a fresh one.
        fresh = client.queue_get(generation.upstream_id).result_url or ""
        with path.open("wb") as out:
            client.download_result(fresh, out)


def _cost(client: Any, upstream_id: str | None) -> Decimal | None:
    if not upstream_id:
        return None
    try:
        return client.generation_get(upstream_id).cost  # type: ignore[no-any-return]
    except errors.OxenError as exc:
        logger.info("cost of %s not available yet: %s", upstream_id, exc)
        return None


def _store(
    generation_id: int,
    path: Path,
    info: imaging.ResultInfo,
    thumbnails: Iterable[imaging.Thumbnail],
    placeholder: str,
    cost: Decimal | None,
) -> None:
    generation = Generation.objects.select_related("team").get(pk=generation_id)
    image = GalleryImage(
        team=generation.team,
        generation=generation,
        sha256=info.sha256,
        format=info.format,
        width=info.width,
        height=info.height,
        bytes=info.byte_size,
        placeholder=placeholder,
        average_color=imaging.placeholder_colour(placeholder),
    )
    original_name = media.save_atomic(result_name(image), path)
    folder = f"thumbnails/{generation.team.public_id}"
    stored_thumbnails = [
        (
            thumb,
            media.save_bytes_atomic(
                f"{folder}/{imaging.content_name(thumb.sha256, thumb.width, 'webp')}", thumb.data
            ),
        )
        for thumb in thumbnails
    ]
    with transaction.atomic():
        locked = _locked(generation_id)
        if locked is None or locked.status != Status.DOWNLOADING:
            return
        if GalleryImage.objects.filter(generation=locked).exists():
            return
        image.file.name = original_name
        image.save()
        Thumbnail.objects.bulk_create(
            Thumbnail(
                image=image,
                width=thumb.width,
                height=thumb.height,
                file=name,
                sha256=thumb.sha256,
                bytes=len(thumb.data),
            )
            for thumb, name in stored_thumbnails
        )
        locked.cost = cost
        locked.last_error = ""
        _transition(locked, Status.SUCCEEDED)
        locked.save()


def result_name(image: GalleryImage) -> str:
    team = image.team.public_id
    return f"results/{team}/{image.sha256[:2]}/{image.sha256}.{image.extension}"


def _ingest_retry_later(generation_id: int, exc: errors.OxenError) -> Next:
    with transaction.atomic():
        generation = _locked(generation_id)
        if generation is None or generation.status != Status.DOWNLOADING:
            return Next.done()
        if generation.attempts >= settings.GENERATION_MAX_ATTEMPTS:
            _fail(generation, attempts_message(_user_message(exc)))
            return Next.done()
        generation.last_error = _user_message(exc)
        generation.save()
    wait = exc.retry_after if isinstance(exc, errors.RateLimitedError) and exc.retry_after else None
    return Next(seconds=wait or backoff(generation.attempts), ingest=True)


# -- cancelling ----------------------------------------------------------------------------------


def generation_cancel(*, generation_id: int) -> bool:
    """Cancel a generation that has not finished. Returns whether it is now cancelled."""
    with transaction.atomic():
        generation = _locked(generation_id)
        if generation is None:
            return False
        if generation.status == Status.PENDING:
            _transition(generation, Status.CANCELLED)
            generation.save()
            return True
        if generation.status not in Generation.UPSTREAM_ACTIVE or not generation.upstream_id:
            return False
        upstream_id = generation.upstream_id
    try:
        oxen.get_client().queue_cancel(upstream_id)
    except errors.OxenError as exc:
        _record_error(generation_id, exc)
        return False
    with transaction.atomic():
        generation = _locked(generation_id)
        if generation is None or generation.status not in Generation.UPSTREAM_ACTIVE:
            return False
        _transition(generation, Status.CANCELLED)
        generation.save()
    return True


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


def _user_message(exc: Exception) -> str:
    message = getattr(exc, "user_message", None)
    return str(message) if message else str(exc)


# -- retrying ------------------------------------------------------------------------------------


class RetryRefused(Exception):
    """Only a failed or cancelled generation can be retried."""


def generation_retry(*, generation_id: int) -> Generation:
    """Try a failed or cancelled generation again, as a NEW generation of the same request:
    the old row keeps its error and its history, and the new one is submitted after commit."""
    from gallery import tasks

    now = timezone.now()
    with transaction.atomic():
        old = _locked(generation_id)
        if old is None or old.status not in (Status.FAILED, Status.CANCELLED):
            raise RetryRefused("Only a failed or cancelled image can be retried.")
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
            deadline_at=now + timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES),
            next_check_at=now + stale_after(),
            transitions=[[Status.PENDING, now.isoformat()]],
        )
        transaction.on_commit(lambda: tasks.generation_submit.delay(retry.pk))
    return retry
