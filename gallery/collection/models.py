"""Collections and the images each one holds, in the order people give them."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage
from gallery.team.models import Team


class Collection(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    # None: the first image in the collection's order is its cover.
    cover = models.ForeignKey(
        GalleryImage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    images = models.ManyToManyField(
        GalleryImage, through="CollectionItem", related_name="collections"
    )

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["team", "name"], name="collection_team_name_idx")]

    def __str__(self) -> str:
        return self.name


class CollectionItem(models.Model):
    """An image in a collection. ``position`` orders the collection (then ``id``); positions
    are renumbered 1..n when someone reorders, so no unique constraint holds them mid-move."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    image = models.ForeignKey(
        GalleryImage, on_delete=models.CASCADE, related_name="collection_items"
    )
    position = models.PositiveIntegerField()
    added_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "image"], name="collection_item_unique_image"
            ),
        ]
        # The collection's grid pages on (position, id).
        indexes = [
            models.Index(fields=["collection", "position", "id"], name="collection_item_order_idx")
        ]

    def __str__(self) -> str:
        return f"{self.collection_id}#{self.position}"


# The gallery's "in collection" filter lists the team's collections on every gallery view; the
# list is kept in the cache (no query per page, issue 15) and forgotten whenever a collection
# is saved or deleted, from the app or the admin alike.
CHOICES_KEY = "collection:choices:{team_id}"


@receiver(post_save, sender=Collection)
@receiver(post_delete, sender=Collection)
def _choices_forget(sender: type[Collection], instance: Collection, **kwargs: object) -> None:
    key = CHOICES_KEY.format(team_id=instance.team_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))  # and once the change is visible
