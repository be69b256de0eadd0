"""Ingest: download, verify and store a result with its renditions. Running it twice
changes nothing: files have content-hash names and the row moves only from the states
it expects."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from gallery import oxen
from gallery.generation.lifecycle import (
    Next,
    Status,
    attempts_message,
    backoff,
    fail_locked,
    generation_fail,
    generation_lock,
    user_message,
)
from gallery.generation.models import GalleryImage, Generation
from gallery.media import imaging, storage
from gallery.media.models import Thumbnail
from gallery.media.renditions import THUMBNAIL_WIDTHS
from seedream import errors

logger = logging.getLogger(__name__)


def generation_ingest(*, generation_id: int) -> Next:
    """Download, verify and store the result with its thumbnails. Running it twice changes
    nothing: files have content-hash names and the row changes only from the states above."""
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None or generation.status not in (
            *Generation.UPSTREAM_ACTIVE,
            Status.DOWNLOADING,
        ):
            return Next.done()
        if generation.status != Status.DOWNLOADING:
            generation.transition_to(Status.DOWNLOADING)
        generation.attempts += 1
        generation.save()

    client = oxen.get_client()
    with tempfile.TemporaryDirectory(dir=storage.scratch_dir()) as scratch:
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
        locked = generation_lock(generation_id)
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
        locked.transition_to(Status.SUCCEEDED)
        locked.save()


def result_name(image: GalleryImage) -> str:
    team = image.team.public_id
    return f"results/{team}/{image.sha256[:2]}/{image.sha256}.{image.extension}"


def _ingest_retry_later(generation_id: int, exc: errors.OxenError) -> Next:
    with transaction.atomic():
        generation = generation_lock(generation_id)
        if generation is None or generation.status != Status.DOWNLOADING:
            return Next.done()
        if generation.attempts >= settings.GENERATION_MAX_ATTEMPTS:
            fail_locked(generation, attempts_message(user_message(exc)))
            return Next.done()
        generation.last_error = user_message(exc)
        generation.save()
    wait = exc.retry_after if isinstance(exc, errors.RateLimitedError) and exc.retry_after else None
    return Next(seconds=wait or backoff(generation.attempts), ingest=True)
