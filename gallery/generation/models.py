"""Generations: references, requests, generations (with their state machine) and the gallery
images they produce."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

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
    # The gallery image this reference was made from ("Use as reference"), for lineage.
    source_image = models.ForeignKey(
        "GalleryImage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="references_made",
    )
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
    # Over the team's approval threshold (gallery.budget): nothing sent until an owner or admin
    # approves (back to pending) or declines (cancelled); ``last_error`` says why it waits.
    AWAITING_APPROVAL = "approval", "Needs approval"


_S = GenerationStatus
# Every move a generation may make, and the only place that says so. ``Generation.transition_to``
# enforces it; the status sets below are derived from it.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    # submitted (submitting), ended before anything was sent, or (recovery) adopted: Oxen
    # already has an image for it that the gallery had lost track of
    _S.PENDING: frozenset(
        {_S.SUBMITTING, _S.CANCELLED, _S.FAILED, _S.QUEUED, _S.AWAITING_APPROVAL}
    ),
    # Oxen's id recorded or the orphan found (queued); refused, not sent, or proved absent and
    # to be sent again (back to pending)
    _S.SUBMITTING: frozenset({_S.QUEUED, _S.PENDING, _S.FAILED}),
    # Oxen holds the job: it may start, finish (download), fail or be cancelled
    _S.QUEUED: frozenset({_S.PROCESSING, _S.DOWNLOADING, _S.CANCELLED, _S.FAILED}),
    _S.PROCESSING: frozenset({_S.DOWNLOADING, _S.CANCELLED, _S.FAILED}),
    # Oxen made it (billed): stored, or the download failed for good (the row keeps
    # ``upstream_status = "succeeded"``, so its Retry downloads instead of generating again)
    _S.DOWNLOADING: frozenset({_S.SUCCEEDED, _S.FAILED}),
    _S.SUCCEEDED: frozenset(),
    # recovery only: Retry download of a billed result, or the reconciler adopting one
    _S.FAILED: frozenset({_S.DOWNLOADING, _S.QUEUED}),
    _S.CANCELLED: frozenset({_S.DOWNLOADING}),
    # the budget check held it at submit (from pending, before anything was sent): an owner or
    # admin approves it (pending, and it is sent) or declines it (cancelled)
    _S.AWAITING_APPROVAL: frozenset({_S.PENDING, _S.CANCELLED}),
}
# Moves the pipeline never makes by itself: a person's Retry download of a result Oxen made
# (and billed), the budget's approval hold and a person's approval or decline, and the
# reconciler (``ledger.py``) adopting an image Oxen has that a row lost track of. Every other
# move in the table is the pipeline's own.
RECOVERY_MOVES: frozenset[tuple[str, str]] = frozenset(
    {
        (_S.PENDING, _S.QUEUED),
        (_S.FAILED, _S.DOWNLOADING),
        (_S.FAILED, _S.QUEUED),
        (_S.CANCELLED, _S.DOWNLOADING),
        # the budget's approval threshold holds a new request; a person approves or declines
        (_S.PENDING, _S.AWAITING_APPROVAL),
        (_S.AWAITING_APPROVAL, _S.PENDING),
        (_S.AWAITING_APPROVAL, _S.CANCELLED),
    }
)


def _pipeline_moves(status: str) -> frozenset[str]:
    moves = ALLOWED_TRANSITIONS[status]
    return frozenset(new for new in moves if (status, new) not in RECOVERY_MOVES)


# The pipeline leaves none of these by itself.
TERMINAL = frozenset(status for status in ALLOWED_TRANSITIONS if not _pipeline_moves(status))
IN_FLIGHT = frozenset(GenerationStatus) - TERMINAL
# Oxen has the job and a result may come from it: the states that can move to downloading.
UPSTREAM_ACTIVE = frozenset(
    status
    for status in ALLOWED_TRANSITIONS
    if _S.DOWNLOADING in _pipeline_moves(status) and status != _S.DOWNLOADING
)
# Where every target directory this app sends lives, so the ledger can list them all.
DIRECTORY_ROOT = "seedream-gallery"


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
    # Sent with the POST, so the job can be found upstream whatever happens to the answer:
    # seedream-gallery/<team>/<generation> (the team lets the ledger adopt a lost row).
    target_directory = models.CharField(max_length=200, db_index=True)
    # What Oxen last said about the job (queued, processing, succeeded, failed, cancelled);
    # "succeeded" means Oxen made the image and billed it, whatever became of the download.
    upstream_status = models.CharField(max_length=12, blank=True)
    transitions = models.JSONField(default=list, blank=True)
    # POSTs sent to Oxen for this image that it did not refuse (a 429 or a connection that
    # never opened is a wait, not an attempt); one is sent again only when Oxen proved the last
    # one created nothing. At most GENERATION_MAX_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(default=0)
    # Consecutive tries of the current step that were refused or failed on the way: sets the
    # backoff, never ends the generation (only the deadline does).
    waits = models.PositiveIntegerField(default=0)
    checks = models.PositiveIntegerField(default=0)  # status looks taken (polls)
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

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.target_directory:
            self.target_directory = directory_for(self.team.public_id, self.public_id)
        super().save(*args, **kwargs)

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
        else:
            self.finished_at = None  # a recovered row is in flight again

    @property
    def result_billed(self) -> bool:
        """Oxen made this image (and charged for it): a failure after this is a failed
        download, retried by downloading again, never by generating again."""
        return self.upstream_status == "succeeded"


def directory_for(team_public_id: uuid.UUID, generation_public_id: uuid.UUID) -> str:
    """The ``target_directory`` a new generation is sent with."""
    return f"{DIRECTORY_ROOT}/{team_public_id}/{generation_public_id}"


def directory_ids(directory: str | None) -> tuple[uuid.UUID | None, uuid.UUID] | None:
    """(team, generation) public ids named by one of our target directories; the team is None
    for the first releases' ``seedream-gallery/<generation>``. None when it is not ours."""
    parts = (directory or "").strip("/").split("/")
    if len(parts) not in (2, 3) or parts[0] != DIRECTORY_ROOT:
        return None
    try:
        ids = [uuid.UUID(part) for part in parts[1:]]
    except ValueError:
        return None
    return (ids[0], ids[1]) if len(ids) == 2 else (None, ids[0])


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


class StoredSchema(models.Model):
    """The last request schema (and price) Oxen published for a model, read successfully.

    The generate form and the submit step fall back to it while Oxen cannot be reached, so an
    outage delays work instead of failing it. ``gallery.oxen`` writes it; nothing else does."""

    model = models.CharField(max_length=100, unique=True)
    schema = models.JSONField()  # RequestSchema.as_json(): the request schema and its price
    fetched_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.model} (read {self.fetched_at:%Y-%m-%d %H:%M})"


class UpstreamGeneration(models.Model):
    """The ledger: one row per generation Oxen reports under our target directories, as the
    last reconciliation saw it, and the gallery row it belongs to (``ledger.py``)."""

    upstream_id = models.CharField(max_length=64, unique=True)
    target_directory = models.CharField(max_length=200, db_index=True)
    generation = models.ForeignKey(
        Generation, null=True, blank=True, on_delete=models.SET_NULL, related_name="ledger"
    )
    status = models.CharField(max_length=12)
    cost = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    error_message = models.TextField(blank=True)
    model = models.CharField(max_length=100, blank=True)
    enqueued_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-enqueued_at", "-id"]

    def __str__(self) -> str:
        return f"{self.upstream_id} ({self.status})"


class Reconciliation(models.Model):
    """One change the reconciler made to a generation, and why: the history the admin shows."""

    class Action(models.TextChoices):
        ADOPTED = "adopted", "Adopted an image Oxen made"
        STATUS = "status", "Status corrected"
        COST = "cost", "Cost corrected"
        DUPLICATE = "duplicate", "Second image kept"

    generation = models.ForeignKey(
        Generation, on_delete=models.CASCADE, related_name="reconciliations"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    detail = models.TextField()
    upstream_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.detail}"
