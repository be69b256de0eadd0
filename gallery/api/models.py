"""Rows of the JSON API: personal access tokens, idempotency keys, webhook endpoints and
their deliveries (with one attempt row per HTTP request sent)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from gallery.accounts.models import User
from gallery.team.models import Team


class Scope(models.TextChoices):
    READ = "read", "Read the gallery"
    GENERATE = "generate", "Generate images and upload references"
    REVIEW = "review", "Review images (staff)"
    SHARE = "share", "Make and manage shared links"
    ADMIN = "admin", "Team administration"


class ApiToken(models.Model):
    """A personal access token: ``sg_`` + 43 base64url characters, shown once; only the
    SHA-256 of the part after the prefix is kept (``gallery.tokens``). Acts for ``user`` in
    ``team``, never beyond the user's role there, whatever its scopes say."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)  # "sg_" + 6: shown in lists
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_client = models.CharField(max_length=200, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class IdempotencyKey(models.Model):
    """The first answer to a POST sent with an ``Idempotency-Key``, kept for 24 hours: a
    repeat with the same key and body gets it again and creates nothing."""

    owner = models.CharField(max_length=80)  # "token:<id>" or "user:<id>"
    key = models.CharField(max_length=255)
    operation = models.CharField(max_length=100)
    body_sha256 = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # None: in progress
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_unique_owner_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"


class WebhookEvent(models.TextChoices):
    GENERATION_SUCCEEDED = "generation.succeeded", "A generation succeeded"
    GENERATION_FAILED = "generation.failed", "A generation failed"
    IMAGE_REVIEWED = "image.reviewed", "An image was reviewed"
    SHARE_LINK_CREATED = "share_link.created", "A shared link was made"
    SHARE_LINK_REVOKED = "share_link.revoked", "A shared link was revoked"


class WebhookEndpoint(models.Model):
    """Where a team's events are sent (managed by its owners and admins), signed with
    ``secret`` per the Standard Webhooks spec."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhook_endpoints")
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100, editable=False)  # "whsec_" + base64
    is_active = models.BooleanField(default=True)
    # Set by the first failure after a success; 3 days of failures disable the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint: retried with backoff for 24 hours until it is answered
    with a 2xx; every HTTP request sent is a ``WebhookAttempt``."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Gave up"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=40)
    message_id = models.CharField(max_length=40)  # the webhook-id header: "msg_<uuid hex>"
    payload = models.JSONField()
    # "state", not "status": only a Generation has a status (tests/gallery/test_state_machine.py)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweep's query: deliveries still waiting whose next attempt is due.
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=models.Q(state="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id} ({self.state})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: what came back and how long it took."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.response_code or self.error}"
