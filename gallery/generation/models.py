"""Generations: references, requests, generations (with their state machine) and the gallery
images they produce."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import models
from django.utils import timezone

from gallery.accounts.models import User
from gallery.team.models import Team
from seedream.mediatypes import extension, mime_type


def reference_upload_to(instance: Reference, filename: str) -> str:
    digest = instance.sha256
    return f"references/{instance.team.public_id}/{digest[:2]}/{digest}.{instance.extension}"


class Reference(models.Model):
    """An uploaded reference image: verified, re-encoded without metadata, one row per content
    hash within a team, however often it is uploaded or used."""

    class Format(models.TextChoices):
        JPEG = "JPEG", "JPEG"
        PNG = "PNG", "PNG"
        WEBP = "WEBP", "WebP"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="references")
    uploaded_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    file = models.FileField(upload_to=reference_upload_to, max_length=200)
    sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=4, choices=Format.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    bytes = models.PositiveIntegerField()
    original_name = models.CharField(max_length=200, blank=True)
    hosted_url = models.URLField(max_length=500, blank=True)  # oxen-repo hosting only
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "sha256"], name="reference_unique_team_sha256"),
        ]

    def __str__(self) -> str:
        return self.original_name or self.sha256[:12]

    @property
    def extension(self) -> str:
        return extension(self.format)

    @property
    def mime_type(self) -> str:
        return mime_type(self.format)


class GenerationRequest(models.Model):
    """What a person asked for: one prompt, its parameters and references, 1-4 images."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="generation_requests")
    author = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    model = models.CharField(max_length=100)
    prompt = models.TextField()
    parameters = models.JSONField(default=dict, blank=True)
    references = models.ManyToManyField(
        Reference, through="RequestReference", related_name="requests"
    )
    batch_size = models.PositiveSmallIntegerField()
    # The body sent to POST /api/ai/queue, shaped by the live schema. Inline data URIs are
    # replaced by a short "data:…;sha256=…" marker: the bytes are the stored references.
    request_body = models.JSONField(default=dict, blank=True)
    request_schema = models.JSONField(default=dict, blank=True)
    remix_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="remixes"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(batch_size__gte=1, batch_size__lte=4),
                name="generation_request_batch_1_to_4",
            ),
        ]

    def __str__(self) -> str:
        return self.prompt[:60]

    def ordered_references(self) -> list[Reference]:
        return [link.reference for link in self.reference_links.select_related("reference")]


class RequestReference(models.Model):
    request = models.ForeignKey(
        GenerationRequest, on_delete=models.CASCADE, related_name="reference_links"
    )
    reference = models.ForeignKey(Reference, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()  # 1-based: @Image1 is position 1

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "position"], name="request_reference_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return f"@Image{self.position}"


class GenerationStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    SUBMITTING = "submitting", "Submitting"
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Generating"
    DOWNLOADING = "downloading", "Downloading"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


_S = GenerationStatus
# Every move a generation may make, and the only place that says so. ``Generation.transition_to``
# enforces it; the status sets below are derived from it.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    # submitted once (submitting), or ended before anything was sent
    _S.PENDING: frozenset({_S.SUBMITTING, _S.CANCELLED, _S.FAILED}),
    # Oxen's id recorded or the orphan found (queued); refused or not sent (back to pending)
    _S.SUBMITTING: frozenset({_S.QUEUED, _S.PENDING, _S.FAILED}),
    # Oxen holds the job: it may start, finish (download), fail or be cancelled
    _S.QUEUED: frozenset({_S.PROCESSING, _S.DOWNLOADING, _S.CANCELLED, _S.FAILED}),
    _S.PROCESSING: frozenset({_S.DOWNLOADING, _S.CANCELLED, _S.FAILED}),
    # the result is ours to fetch: stored, or unusable / out of attempts
    _S.DOWNLOADING: frozenset({_S.SUCCEEDED, _S.FAILED}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),  # a retry is a new generation, not a move of this one
    _S.CANCELLED: frozenset(),
}
# Nothing leaves these.
TERMINAL = frozenset(status for status, moves in ALLOWED_TRANSITIONS.items() if not moves)
IN_FLIGHT = frozenset(GenerationStatus) - TERMINAL
# Oxen has the job and a result may come from it: the states that can move to downloading.
UPSTREAM_ACTIVE = frozenset(
    status
    for status, moves in ALLOWED_TRANSITIONS.items()
    if _S.DOWNLOADING in moves and status != _S.DOWNLOADING
)


class IllegalTransition(Exception):
    """A move ``ALLOWED_TRANSITIONS`` does not allow: a bug in the pipeline, never user input."""

    def __init__(self, generation: Generation, status: str) -> None:
        super().__init__(
            f"generation {generation.pk}: {generation.status} -> {status} is not allowed"
        )


class Generation(models.Model):
    """One image of a request, followed from submission to its stored result.

    The row is the source of truth; Celery messages only say "look at row N". ``status`` moves
    pending -> submitting -> queued -> processing -> downloading -> succeeded, or to failed or
    cancelled, only as ``ALLOWED_TRANSITIONS`` allows and only through ``transition_to``, which
    appends every move to ``transitions``.
    """

    Status = GenerationStatus
    TERMINAL = TERMINAL
    UPSTREAM_ACTIVE = UPSTREAM_ACTIVE
    IN_FLIGHT = IN_FLIGHT

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request = models.ForeignKey(
        GenerationRequest, on_delete=models.CASCADE, related_name="generations"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="generations")
    index = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    upstream_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    transitions = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    checks = models.PositiveIntegerField(default=0)  # status looks taken, for the poll backoff
    last_error = models.TextField(blank=True)
    result_url = models.TextField(blank=True)  # Oxen's presigned URL: server side only
    cost = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField()
    next_check_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The tracker's query: in-flight rows that are due for a look.
            models.Index(
                fields=["next_check_at"],
                name="generation_due_idx",
                condition=models.Q(
                    status__in=["pending", "submitting", "queued", "processing", "downloading"]
                ),
            ),
            models.Index(fields=["team", "-created_at", "-id"], name="generation_team_recent_idx"),
            # The live pages' version (gallery.browse.selectors.live_version): the team's rows
            # touched in the last two minutes.
            models.Index(fields=["team", "updated_at"], name="generation_team_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def transition_to(self, status: str, *, now: datetime | None = None) -> None:
        """Move to ``status`` (unsaved), recording when; a terminal state also ends the
        tracking. Raises ``IllegalTransition`` for a move the table does not allow."""
        if status not in ALLOWED_TRANSITIONS[self.status]:
            raise IllegalTransition(self, status)
        now = now or timezone.now()
        self.status = status
        self.transitions = [*self.transitions, [status, now.isoformat()]]
        if status in TERMINAL:
            self.finished_at = now
            self.next_check_at = None

    @property
    def target_directory(self) -> str:
        """A per-generation tag sent with the POST, so an orphan can be found upstream."""
        return f"seedream-gallery/{self.public_id}"


class GalleryImage(models.Model):
    class ReviewState(models.TextChoices):
        PENDING = "pending", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="images")
    generation = models.OneToOneField(Generation, on_delete=models.CASCADE, related_name="image")
    file = models.FileField(max_length=200)  # results/<team>/<sha256[:2]>/<sha256>.<ext>
    sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=4, choices=Reference.Format.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    bytes = models.PositiveIntegerField()
    placeholder = models.CharField(max_length=100, blank=True)  # blurhash
    average_color = models.CharField(max_length=7, blank=True)
    review_state = models.CharField(
        max_length=10, choices=ReviewState.choices, default=ReviewState.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at", "-id"], name="image_team_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id}"

    @property
    def extension(self) -> str:
        return extension(self.format)
