"""Reusing what the gallery holds: an image as a new reference, a request run again."""

from __future__ import annotations

from typing import BinaryIO, cast

from gallery import generations, oxen
from gallery.models import GalleryImage, GenerationRequest, Membership, Reference
from gallery.references import reference_upload


def reference_from_image(*, membership: Membership, image: GalleryImage) -> Reference:
    """The team's reference for an (access-checked) gallery image's original; verified and
    re-encoded like any upload, and de-duplicated by content."""
    with image.file.open("rb") as handle:
        return reference_upload(
            team=membership.team,
            user=membership.user,
            upload=cast(BinaryIO, handle),
            name=f"seedream-{image.public_id}.{image.extension}",
        )


def generation_request_rerun(
    *, membership: Membership, original: GenerationRequest
) -> GenerationRequest:
    """The same prompt, parameters, references and batch size, sent again as a new request
    (validated against today's schema, so a field Oxen has since renamed is caught here)."""
    return generations.generation_request_create(
        team=membership.team,
        author=membership.user,
        prompt=original.prompt,
        parameters=dict(original.parameters),
        references=original.ordered_references(),
        batch_size=original.batch_size,
        schema=oxen.get_schema(),
        model=original.model,
        remix_of=original,
    )
