"""Review decisions: the history behind every image's review state."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage


class ReviewDecisionManager(models.Manager["ReviewDecision"]):
    def get_queryset(self) -> models.QuerySet[ReviewDecision]:
        # The history is always shown with who decided: one query, however long it is
        # (``image.review_decisions.all`` goes through this manager too).
        return super().get_queryset().select_related("actor")


class ReviewDecision(models.Model):
    """One change of an image's review state (or a flag), appended by ``gallery.review``."""

    class Kind(models.TextChoices):
        REVIEW = "review", "Review"
        FLAG = "flag", "Flag"

    image = models.ForeignKey(
        GalleryImage, on_delete=models.CASCADE, related_name="review_decisions"
    )
    actor = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.REVIEW)
    from_state = models.CharField(max_length=10, choices=GalleryImage.ReviewState.choices)
    to_state = models.CharField(max_length=10, choices=GalleryImage.ReviewState.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ReviewDecisionManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["image", "-created_at"], name="review_decision_image_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.image_id}: {self.from_state} -> {self.to_state}"
