"""Rows for tests, made with factory-boy: real rows in the test database, small Pillow images.

The factories make one row each with sensible defaults; ``make_item`` and ``make_image`` build
a whole finished gallery item (request, generation, image, thumbnails) without running the
pipeline, for view, review and sharing tests that need many items or specific ones.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.core.files.storage import storages
from django.utils import timezone
from factory.django import DjangoModelFactory, Password
from PIL import Image

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage, Generation, GenerationRequest
from gallery.media.models import Thumbnail
from gallery.team.models import Membership, Team

MODEL = "bytedance-seedream-4-5"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = Password("correct horse battery")


class TeamFactory(DjangoModelFactory[Team]):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MEMBER


class GenerationRequestFactory(DjangoModelFactory[GenerationRequest]):
    class Meta:
        model = GenerationRequest

    team = factory.SubFactory(TeamFactory)
    author = factory.SubFactory(UserFactory)
    model = MODEL
    prompt = "a red fox in the snow"
    parameters = factory.LazyFunction(lambda: {"size": "2K", "watermark": False})
    batch_size = 1


class GenerationFactory(DjangoModelFactory[Generation]):
    class Meta:
        model = Generation

    request = factory.SubFactory(GenerationRequestFactory)
    team = factory.SelfAttribute("request.team")
    status = Generation.Status.SUCCEEDED
    deadline_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=30))


class GalleryImageFactory(DjangoModelFactory[GalleryImage]):
    class Meta:
        model = GalleryImage

    generation = factory.SubFactory(GenerationFactory)
    team = factory.SelfAttribute("generation.team")
    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"image {n}".encode()).hexdigest())
    file = factory.LazyAttribute(lambda o: f"results/{o.team.public_id}/{o.sha256}.jpg")
    format = "JPEG"
    width = 64
    height = 64
    bytes = 1000
    review_state = GalleryImage.ReviewState.APPROVED


class ThumbnailFactory(DjangoModelFactory[Thumbnail]):
    class Meta:
        model = Thumbnail

    image = factory.SubFactory(GalleryImageFactory)
    width = 32
    height = 32
    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"thumbnail {n}".encode()).hexdigest())
    file = factory.LazyAttribute(lambda o: f"thumbnails/{o.sha256[:2]}/{o.sha256[2:]}.webp")
    bytes = 100


def encoded(size: tuple[int, int], colour: tuple[int, int, int], image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, image_format)
    return buffer.getvalue()


def make_item(
    team: Team,
    author: User | None,
    *,
    prompt: str = "a red fox in the snow",
    status: str = "succeeded",
    parameters: dict[str, Any] | None = None,
    model: str = MODEL,
    created_at: datetime | None = None,
    review_state: str = "approved",
    files: bool = False,
    colour: tuple[int, int, int] = (180, 60, 40),
    error: str = "",
    size: tuple[int, int] = (64, 64),
    thumbnail_widths: tuple[int, ...] = (32, 64),
    upstream_id: str | None = None,
) -> Generation:
    """One request with one generation; a succeeded one gets an image and a thumbnail at each
    of ``thumbnail_widths`` (written to media storage when ``files``)."""
    now = created_at or timezone.now()
    generation = GenerationFactory(
        request=GenerationRequestFactory(
            team=team,
            author=author,
            model=model,
            prompt=prompt,
            parameters=parameters if parameters is not None else {"size": "2K", "watermark": False},
        ),
        status=status,
        last_error=error,
        upstream_id=upstream_id,
        cost=Decimal("0.04") if status == "succeeded" else None,
        finished_at=now + timedelta(seconds=12) if status in ("succeeded", "failed") else None,
    )
    # auto_now_add fields take the real time on create; set the wanted one afterwards.
    Generation.objects.filter(pk=generation.pk).update(created_at=now)
    GenerationRequest.objects.filter(pk=generation.request_id).update(created_at=now)
    generation.refresh_from_db()
    if status != "succeeded":
        return generation
    original = encoded(size, colour, "JPEG")
    sha = hashlib.sha256(original + prompt.encode() + str(generation.pk).encode()).hexdigest()
    storage = storages["default"]
    image = GalleryImageFactory(
        generation=generation,
        file=f"results/{team.public_id}/{sha[:2]}/{sha}.jpg",
        sha256=sha,
        width=size[0],
        height=size[1],
        bytes=len(original),
        placeholder="LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        average_color="#{:02x}{:02x}{:02x}".format(*colour),
        review_state=review_state,
    )
    if files:
        storage.save(image.file.name, io.BytesIO(original))
    for width in thumbnail_widths:
        height = width * size[1] // size[0]
        data = encoded((width, height), colour, "WEBP")
        thumb_sha = hashlib.sha256(data + sha.encode()).hexdigest()
        name = f"thumbnails/{team.public_id}/{thumb_sha[:2]}/{thumb_sha[2:]}-{width}.webp"
        if files:
            storage.save(name, io.BytesIO(data))
        ThumbnailFactory(
            image=image, width=width, height=height, file=name, sha256=thumb_sha, bytes=len(data)
        )
    return generation


def make_image(
    team: Team,
    author: User | None,
    *,
    prompt: str = "a lighthouse at dusk",
    state: str = GalleryImage.ReviewState.PENDING,
    size: str = "2K",
    model: str = MODEL,
    colour: tuple[int, int, int] = (200, 40, 40),
    created_at: datetime | None = None,
) -> GalleryImage:
    """A finished image with its files in media storage, pending review by default (the review
    and sharing tests' starting point)."""
    generation = make_item(
        team,
        author,
        prompt=prompt,
        parameters={"size": size},
        model=model,
        created_at=created_at,
        review_state=state,
        files=True,
        colour=colour,
        size=(96, 64),
        thumbnail_widths=(48, 96),
        upstream_id=f"up-{uuid.uuid4()}",
    )
    image: GalleryImage = generation.image
    if created_at is not None:
        GalleryImage.objects.filter(pk=image.pk).update(created_at=created_at)
        image.refresh_from_db()
    return image
