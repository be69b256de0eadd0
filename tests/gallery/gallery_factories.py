"""Gallery rows made directly (no pipeline), for view tests that need many or specific items."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.files.storage import storages
from django.utils import timezone
from PIL import Image

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage, Generation, GenerationRequest
from gallery.media.models import Thumbnail
from gallery.team.models import Team


def webp_bytes(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "WEBP")
    return buffer.getvalue()


def jpeg_bytes(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


def make_item(
    team: Team,
    author: User,
    *,
    prompt: str = "a red fox in the snow",
    status: str = "succeeded",
    parameters: dict[str, Any] | None = None,
    created_at: datetime | None = None,
    review_state: str = "approved",
    files: bool = False,
    colour: tuple[int, int, int] = (180, 60, 40),
    error: str = "",
) -> Generation:
    """One request with one generation; a succeeded one gets an image and two thumbnails
    (written to media storage when ``files``)."""
    now = created_at or timezone.now()
    request = GenerationRequest.objects.create(
        team=team,
        author=author,
        model="bytedance-seedream-4-5",
        prompt=prompt,
        parameters=parameters if parameters is not None else {"size": "2K", "watermark": False},
        batch_size=1,
    )
    generation = Generation.objects.create(
        request=request,
        team=team,
        status=status,
        deadline_at=now + timedelta(minutes=30),
        last_error=error,
        upstream_id=None,
        cost=Decimal("0.04") if status == "succeeded" else None,
        finished_at=now + timedelta(seconds=12) if status in ("succeeded", "failed") else None,
    )
    Generation.objects.filter(pk=generation.pk).update(created_at=now)
    GenerationRequest.objects.filter(pk=request.pk).update(created_at=now)
    generation.refresh_from_db()
    if status != "succeeded":
        return generation
    original = jpeg_bytes((64, 64), colour)
    sha = hashlib.sha256(original + prompt.encode() + str(generation.pk).encode()).hexdigest()
    image = GalleryImage.objects.create(
        team=team,
        generation=generation,
        file=f"results/{team.public_id}/{sha[:2]}/{sha}.jpg",
        sha256=sha,
        format="JPEG",
        width=64,
        height=64,
        bytes=len(original),
        placeholder="LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        average_color="#{:02x}{:02x}{:02x}".format(*colour),
        review_state=review_state,
    )
    storage = storages["default"]
    if files:
        storage.save(image.file.name, io.BytesIO(original))
    for width in (32, 64):
        data = webp_bytes((width, width), colour)
        thumb_sha = hashlib.sha256(data + sha.encode()).hexdigest()
        name = f"thumbnails/{team.public_id}/{thumb_sha[:2]}/{thumb_sha[2:]}-{width}.webp"
        if files:
            storage.save(name, io.BytesIO(data))
        Thumbnail.objects.create(
            image=image, width=width, height=width, file=name, sha256=thumb_sha, bytes=len(data)
        )
    return generation
