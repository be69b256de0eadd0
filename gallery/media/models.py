"""Renditions: the stored thumbnails of a gallery image."""

from __future__ import annotations

from django.db import models

from gallery.generation.models import GalleryImage


class Thumbnail(models.Model):
    """A WebP rendition of a gallery image at one width, stored under its content hash."""

    image = models.ForeignKey(GalleryImage, on_delete=models.CASCADE, related_name="thumbnails")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    file = models.FileField(max_length=200)
    sha256 = models.CharField(max_length=64)
    bytes = models.PositiveIntegerField()

    class Meta:
        ordering = ["width"]
        constraints = [
            models.UniqueConstraint(fields=["image", "width"], name="thumbnail_unique_width"),
        ]

    def __str__(self) -> str:
        return f"{self.image_id}@{self.width}"
