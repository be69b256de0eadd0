"""The image types Seedream takes and gives back, in one table, and how to tell them apart.

Every part of the project names a format the way Pillow does (``"JPEG"``, ``"PNG"``,
``"WEBP"``) and takes its MIME type and file extension from :data:`MEDIA_TYPES`. The format of
a file is read from its first bytes by :func:`sniff_format`, never from a name or a
Content-Type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

type ImageFormat = Literal["JPEG", "PNG", "WEBP"]


@dataclass(frozen=True)
class MediaType:
    format: ImageFormat
    mime: str
    extension: str


MEDIA_TYPES: dict[ImageFormat, MediaType] = {
    "JPEG": MediaType("JPEG", "image/jpeg", "jpg"),
    "PNG": MediaType("PNG", "image/png", "png"),
    "WEBP": MediaType("WEBP", "image/webp", "webp"),
}
MIME_TYPES: frozenset[str] = frozenset(t.mime for t in MEDIA_TYPES.values())
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sniff_format(head: bytes) -> ImageFormat | None:
    """The format named by the magic bytes at the start of ``head`` (12 bytes are enough), or
    ``None`` if it is not JPEG, PNG or WebP."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(PNG_SIGNATURE):
        return "PNG"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def mime_type(image_format: str) -> str:
    """``"image/jpeg"`` for ``"JPEG"`` and so on; KeyError for a format not in the table."""
    return MEDIA_TYPES[image_format].mime  # type: ignore[index]


def extension(image_format: str) -> str:
    """``"jpg"`` for ``"JPEG"`` and so on; KeyError for a format not in the table."""
    return MEDIA_TYPES[image_format].extension  # type: ignore[index]


def format_for_mime(mime: str) -> ImageFormat | None:
    return next((t.format for t in MEDIA_TYPES.values() if t.mime == mime), None)
