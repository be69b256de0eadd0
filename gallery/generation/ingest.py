"""Ingest: download, verify and store a result with its renditions. Running it twice
changes nothing: files have content-hash names and the row moves only from the states
it expects.

Once Oxen reports success the image is billed, and the gallery does not give up on it before
the deadline: a refusal (429, no connection), a failure on the way (5xx, a stalled download,
Oxen restarting) or an expired URL is a wait, then another try (with a fresh URL from the
status call when the one in hand expired or is not allowed). Only a result that cannot be
used (not an image, truncated, too large), a URL the download settings refuse, or the
deadline ends it, as a failed download that keeps ``upstream_status = "succeeded"``: its
Retry downloads it again, never generates a new one."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from gallery import oxen
from gallery.budget.services import reservations_settle
from gallery.generation.lifecycle import (
    Next,
    Status,
    billed_failure_message,
    generation_fail,
    generation_finished,
    generation_lock,
    record_wait,
    waits_cleared,
)
from gallery.generation.models import GalleryImage, Generation
from gallery.media import imaging, storage
from gallery.media.models import Thumbnail
from gallery.media.renditions import EAGER_WIDTHS, LATER_WIDTHS
from seedream import errors
from seedream.client import OxenClient

logger = logging.getLogger(__name__)

# The states a row can be ingested from: Oxen still working on it as far as the row knows (a
# status call or event said succeeded), or marked downloading.
INGESTIBLE = (*Generation.UPSTREAM_ACTIVE, Status.DOWNLOADING)

# The cost is read right after the download with this bound; if Oxen does not say it then,
# the sweep asks again later (``generations_sweep``) and the ledger corrects it daily.
COST_TIMEOUT = 5.0

# Previews wait while results are being ingested (issue 15): each costs about as much CPU as
# an ingest, and a burst of completions reaches the grid sooner with nothing competing. Every
# ingest marks the pipeline busy for INGEST_BUSY_SECONDS; a preview that finds it busy comes
# back that much later, and is made anyway once it has waited PREVIEW_MAX_WAIT.
INGEST_BUSY_KEY = "gallery:ingest-busy"
INGEST_BUSY_SECONDS = 3
PREVIEW_MAX_WAIT = 120.0


def generation_ingest(*, generation_id: int) -> Next:
    """Download, verify and store the result with its thumbnails. Running it twice changes
    nothing: files have content-hash names and the row changes only from ``INGESTIBLE``."""
    # A row already downloading (an event or the sweep marked it) needs no lock to start: only
    # storing the result changes it, and ``_store`` looks again under the lock.
    generation = Generation.objects.select_related("team").filter(pk=generation_id).first()
    if generation is None or generation.status not in INGESTIBLE:
        return Next.done()
    if generation.status != Status.DOWNLOADING:
        with transaction.atomic():
            generation = generation_lock(generation_id)
            if generation is None or generation.status not in INGESTIBLE:
                return Next.done()
            if generation.status != Status.DOWNLOADING:
                generation.upstream_status = "succeeded"
                generation.transition_to(Status.DOWNLOADING)
                generation.save()

    cache.set(INGEST_BUSY_KEY, True, timeout=INGEST_BUSY_SECONDS)
    client = oxen.get_client()
    with tempfile.TemporaryDirectory(dir=storage.scratch_dir()) as scratch:
        path = Path(scratch) / "result"
        try:
            _download_result(client, generation, path)
            # One read, one decode: the checks, the grid renditions and the placeholder.
            result = imaging.result_ingest(path, EAGER_WIDTHS)
        except (imaging.ImageRejected, errors.BadContentError, errors.DownloadTooLargeError) as exc:
            # The same URL gives the same bytes: not fetched again by itself.
            return _billed_failure(generation_id, f"the result was unusable: {exc}")
        except errors.UnsafeURLError as exc:  # the download settings refuse it (a fresh URL too)
            return _billed_failure(generation_id, exc.user_message)
        except errors.NotFoundError:
            return _billed_failure(generation_id, "Oxen no longer has this image.")
        except errors.OxenError as exc:
            return Next(seconds=record_wait(generation_id, exc), ingest=True)
        cost = result_cost(client, generation.upstream_id)
        image_id = _store(
            generation, path, result.info, result.thumbnails, result.placeholder, cost
        )
    if image_id is not None and _later_widths(result.info.width):
        # The wider renditions (2x tiles, the detail page): made next, on their own
        # low-priority queue, so a burst of completions is visible without waiting for them.
        return Next(preview=image_id)
    return Next.done()


def preview_wait(*, waited: float) -> float | None:
    """Seconds a preview that has waited ``waited`` should wait more, or None: make it now."""
    if waited >= PREVIEW_MAX_WAIT or not cache.get(INGEST_BUSY_KEY):
        return None
    return float(INGEST_BUSY_SECONDS)


def _later_widths(width: int) -> list[int]:
    """The renditions made after ingest for an image ``width`` px wide (never upscaled)."""
    return [w for w in LATER_WIDTHS if w < width]


def image_preview_make(*, image_id: int) -> None:
    """Add the wider renditions (``LATER_WIDTHS``) to a stored image, from its original and
    one decode, the way every rendition was made before ingest split them (the same bytes as
    then). Running it twice changes nothing; an image deleted meanwhile is skipped."""
    image = GalleryImage.objects.select_related("team").filter(pk=image_id).first()
    if image is None or not image.file.name:
        return
    have = set(Thumbnail.objects.filter(image_id=image_id).values_list("width", flat=True))
    widths = _later_widths(image.width)
    if not widths or have.issuperset(widths):
        return
    with image.file.open("rb") as original:
        made = [t for t in imaging.thumbnails_make(original, widths) if t.width not in have]
    names = [
        storage.save_bytes_atomic(
            f"thumbnails/{image.team.public_id}/"
            f"{imaging.content_name(thumb.sha256, thumb.width, 'webp')}",
            thumb.data,
        )
        for thumb in made
    ]
    with transaction.atomic():
        if not GalleryImage.objects.select_for_update().filter(pk=image_id).exists():
            return
        created = False
        for thumb, name in zip(made, names, strict=True):
            _, new = Thumbnail.objects.get_or_create(
                image_id=image_id,
                width=thumb.width,
                defaults={
                    "height": thumb.height,
                    "file": name,
                    "sha256": thumb.sha256,
                    "bytes": len(thumb.data),
                },
            )
            created = created or new
        if created:  # the tile's srcset and the detail page change: live pages see it
            Generation.objects.filter(pk=image.generation_id).update(updated_at=timezone.now())


def _download_result(client: OxenClient, generation: Generation, path: Path) -> None:
    """Fetch the result; a URL that expired (or that the settings refuse: an event's URL may
    name another host than the status call's) is replaced once by a fresh one from Oxen."""
    url = generation.result_url or _fresh_url(client, generation)
    try:
        with path.open("wb") as out:
            client.download_result(url, out)
    except (errors.ResultExpiredError, errors.DownloadPolicyError) as first:
        fresh = _fresh_url(client, generation)
        if not fresh or fresh == url:
            raise first from None
        Generation.objects.filter(pk=generation.pk).update(result_url=fresh)
        with path.open("wb") as out:
            client.download_result(fresh, out)


def _fresh_url(client: OxenClient, generation: Generation) -> str:
    if not generation.upstream_id:
        raise errors.NotFoundError("no upstream id to ask for a fresh result URL")
    return client.queue_get(generation.upstream_id, retries=0).result_url or ""


def result_cost(client: OxenClient, upstream_id: str | None) -> Decimal | None:
    """What Oxen charged, if it says so now (``None`` otherwise: asked again later)."""
    if not upstream_id:
        return None
    try:
        return client.generation_get(upstream_id, retries=0, timeout=COST_TIMEOUT).cost
    except errors.OxenError as exc:
        logger.info("cost of %s not available yet: %s", upstream_id, exc)
        return None


def _billed_failure(generation_id: int, reason: str) -> Next:
    generation_fail(generation_id=generation_id, message=billed_failure_message(reason))
    return Next.done()


def _store(
    generation: Generation,
    path: Path,
    info: imaging.ResultInfo,
    thumbnails: Iterable[imaging.Thumbnail],
    placeholder: str,
    cost: Decimal | None,
) -> int | None:
    """Store the files and the rows; the image's id, or None if another run stored it."""
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
    original_name = storage.save_atomic(result_name(image), path)
    folder = f"thumbnails/{generation.team.public_id}"
    stored_thumbnails = [
        (
            thumb,
            storage.save_bytes_atomic(
                f"{folder}/{imaging.content_name(thumb.sha256, thumb.width, 'webp')}", thumb.data
            ),
        )
        for thumb in thumbnails
    ]
    with transaction.atomic():
        locked = generation_lock(generation.pk)
        if locked is None or locked.status != Status.DOWNLOADING:
            return None
        if GalleryImage.objects.filter(generation=locked).exists():
            return None
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
        waits_cleared(locked)
        locked.transition_to(Status.SUCCEEDED)
        locked.save()
        # The reservation is trued up: the billed cost (or the estimate until Oxen says).
        reservations_settle(generation_ids=[locked.pk])
        generation_finished(locked)
    return image.pk


def result_name(image: GalleryImage) -> str:
    team = image.team.public_id
    return f"results/{team}/{image.sha256[:2]}/{image.sha256}.{image.extension}"
