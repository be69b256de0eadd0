"""Favourites: a person's own marks on the team's images."""

from __future__ import annotations

from django.db import models

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage


class Favourite(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="favourites")
    image = models.ForeignKey(GalleryImage, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "image"], name="favourite_unique_user_image"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.image_id}"
