"""Shared links and the images each one holds."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import models
from django.utils import timezone

from gallery.accounts.models import User
from gallery.collection.models import Collection
from gallery.generation.models import GalleryImage
from gallery.team.models import Team


class ShareLink(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="share_links")
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)  # sha256 hex
    # The token is derived from this nonce and the server's key (gallery.tokens.token_derive),
    # so the address can be shown again; blank for links made before that (they still work
    # by their hash, but their address was never kept and cannot be shown).
    token_nonce = models.CharField(max_length=32, blank=True, editable=False)
    note = models.CharField(max_length=200, blank=True, help_text="Who the link is for.")
    expires_at = models.DateTimeField(null=True, blank=True)
    password_hash = models.CharField(max_length=128, blank=True)  # Django hasher; blank = none
    allow_download = models.BooleanField(default=True)
    show_metadata = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    view_count = models.PositiveIntegerField(default=0)
    download_count = models.PositiveIntegerField(default=0)
    last_accessed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    images = models.ManyToManyField(GalleryImage, through="ShareLinkItem", related_name="+")
    # A link made from a collection: it either follows it (shows what the collection holds at
    # each visit, items added later included) or froze its images into ShareLinkItems.
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.SET_NULL, related_name="share_links"
    )
    follows_collection = models.BooleanField(default=False)
    # Proofing: visitors give a name, then pick images and comment on them.
    proofing = models.BooleanField(default=False)
    # The last proofing activity the link's author was sent a digest of.
    proofing_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="share_link_team_recent_idx"),
        ]

    def __str__(self) -> str:
        return self.note or f"Link {str(self.public_id)[:8]}"

    @property
    def can_show_address(self) -> bool:
        return bool(self.token_nonce)

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    def state_at(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return self.State.EXPIRED
        return self.State.ACTIVE

    @property
    def state(self) -> str:
        return self.state_at(timezone.now())

    @property
    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE


class ShareLinkItem(models.Model):
    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="items")
    image = models.ForeignKey(
        GalleryImage, on_delete=models.CASCADE, related_name="share_link_items"
    )
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["link", "image"], name="share_item_unique_image"),
            models.UniqueConstraint(fields=["link", "position"], name="share_item_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.link_id}#{self.position}"


class ProofingVisitor(models.Model):
    """Someone proofing through a link: the name they gave, known to their browser by a signed
    cookie holding ``key`` (no account)."""

    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="visitors")
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=60)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name


class ProofingPick(models.Model):
    """A visitor's heart on an image of the link."""

    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="picks")
    visitor = models.ForeignKey(ProofingVisitor, on_delete=models.CASCADE, related_name="picks")
    image = models.ForeignKey(GalleryImage, on_delete=models.CASCADE, related_name="proof_picks")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["visitor", "image"], name="proof_pick_unique_image"),
        ]
        indexes = [models.Index(fields=["link", "created_at"], name="proof_pick_link_idx")]

    def __str__(self) -> str:
        return f"{self.visitor_id} picks {self.image_id}"


class ProofingComment(models.Model):
    """A visitor's comment on an image of the link: plain text, escaped wherever shown."""

    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="comments")
    visitor = models.ForeignKey(ProofingVisitor, on_delete=models.CASCADE, related_name="comments")
    image = models.ForeignKey(GalleryImage, on_delete=models.CASCADE, related_name="proof_comments")
    body = models.TextField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["link", "created_at"], name="proof_comment_link_idx")]

    def __str__(self) -> str:
        return self.body[:40]
