"""Gallery images built directly (no pipeline run) for the review and sharing tests: real rows,
real files in the test's media storage, small Pillow images."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

from django.core.files.storage import storages
from django.utils import timezone
from PIL import Image

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage, Generation, GenerationRequest
from gallery.media.models import Thumbnail
from gallery.team.models import Team


def _store(name: str, data: bytes) -> str:
    storage = storages["default"]
    return storage.save(name, io.BytesIO(data))


def _encode(size: tuple[int, int], colour: tuple[int, int, int], fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def make_image(
    team: Team,
    author: User | None,
    *,
    prompt: str = "a lighthouse at dusk",
    state: str = GalleryImage.ReviewState.PENDING,
    size: str = "2K",
    model: str = "bytedance-seedream-4-5",
    colour: tuple[int, int, int] = (200, 40, 40),
    created_at: timezone.datetime | None = None,
) -> GalleryImage:
    request = GenerationRequest.objects.create(
        team=team,
        author=author,
        model=model,
        prompt=prompt,
        parameters={"size": size},
        batch_size=1,
    )
    generation = Generation.objects.create(
        request=request,
        team=team,
        status=Generation.Status.SUCCEEDED,
        upstream_id=f"up-{request.public_id}",
        deadline_at=timezone.now() + timedelta(minutes=30),
    )
    original = _encode((96, 64), colour, "JPEG")
    digest = hashlib.sha256(original).hexdigest()
    image = GalleryImage.objects.create(
        team=team,
        generation=generation,
        file=_store(f"results/{team.public_id}/{digest}.jpg", original),
        sha256=digest,
        format="JPEG",
        width=96,
        height=64,
        bytes=len(original),
        review_state=state,
    )
    for width in (48, 96):
        data = _encode((width, width * 2 // 3), colour, "WEBP")
        Thumbnail.objects.create(
            image=image,
            width=width,
            height=width * 2 // 3,
            file=_store(f"thumbnails/{team.public_id}/{digest}-{width}.webp", data),
            sha256=hashlib.sha256(data).hexdigest(),
            bytes=len(data),
        )
    if created_at is not None:
        GalleryImage.objects.filter(pk=image.pk).update(created_at=created_at)
        image.refresh_from_db()
    return image
