"""The upstream ledger: what Oxen made for this gallery, reconciled with what the gallery holds.

Every generation this app sends carries a ``target_directory`` under ``seedream-gallery/``,
so Oxen's history (``GET /api/ai/generations``, every page) lists all of ours. Reconciling
records each one in :class:`UpstreamGeneration` and, where the gallery disagrees:

* **adopts** a billed result it does not have: a row that ended failed or cancelled although
  Oxen made the image (or is still making it), a row that never learnt its upstream id, and
  an image whose row was lost altogether (rebuilt from Oxen's record: the team comes from the
  directory, the prompt and parameters from the job);
* **keeps both** when two jobs exist for one image (an unconfirmed POST sent again that did
  reach Oxen after all): the second becomes a row of its own in the same request;
* **corrects costs** that differ from what Oxen charged.

Rows still in flight are left to the pipeline. Every change is written to the generation's
:class:`Reconciliation` history (the admin shows it) and counted in the report. Run daily by
beat (``generations_reconcile``) and by ``manage.py oxen_reconcile [--since 7d]``. A listing
that fails part-way raises before anything is changed.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from gallery import oxen, tasks
from gallery.budget.services import reservations_settle
from gallery.generation.lifecycle import Status, generation_lock
from gallery.generation.models import (
    DIRECTORY_ROOT,
    Generation,
    GenerationRequest,
    Reconciliation,
    UpstreamGeneration,
    directory_ids,
)
from gallery.generation.track import apply_upstream_status
from gallery.team.models import Team
from seedream.responses import GenerationDetail

logger = logging.getLogger(__name__)

Action = Reconciliation.Action
# Fields Oxen echoes with a job that are not the model's parameters (references are left
# out too: the images themselves are not kept upstream with the job).
_NOT_PARAMETERS = frozenset(
    {"model", "prompt", "num_generations", "target_directory", "target_namespace", "target_repo"}
)
# Upstream states in which Oxen has made, or may still make, the image: worth adopting.
WORTH_ADOPTING = frozenset({"succeeded", "queued", "processing"})


@dataclass
class ReconcileReport:
    """What a reconciliation saw and did."""

    since: datetime | None
    seen: int = 0
    matched: int = 0
    adopted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    costs: list[str] = field(default_factory=list)
    not_adopted: list[str] = field(default_factory=list)
    ingest: list[int] = field(default_factory=list)

    def summary(self) -> str:
        window = f"since {self.since:%Y-%m-%d %H:%M}" if self.since else "all time"
        return (
            f"{self.seen} upstream generations ({window}), {self.matched} as recorded; "
            f"{len(self.adopted)} adopted, {len(self.duplicates)} second images kept, "
            f"{len(self.costs)} costs corrected, {len(self.not_adopted)} left alone"
        )

    def lines(self) -> list[str]:
        out = [self.summary()]
        for title, items in (
            ("adopted", self.adopted),
            ("second image kept", self.duplicates),
            ("cost corrected", self.costs),
            ("left alone", self.not_adopted),
        ):
            out += [f"  {title}: {item}" for item in items]
        return out


def generations_reconcile(*, since: datetime | None) -> ReconcileReport:
    """Reconcile Oxen's history (from ``since``) with the gallery; see the module docstring.
    Adopted rows are ingested by the workers after commit (their ids are in the report)."""
    client = oxen.get_client()
    upstream = list(client.generations_iter(directory_prefix=DIRECTORY_ROOT, since=since))
    report = ReconcileReport(since=since)
    for row in sorted(upstream, key=lambda r: r.enqueued_at):
        report.seen += 1
        with transaction.atomic():
            generation = _reconcile_one(row, report)
            _ledger_write(row, generation)
    for pk in report.ingest:
        _ingest_after_commit(pk)
    logger.info("reconciled with Oxen: %s", report.summary())
    return report


def _reconcile_one(row: GenerationDetail, report: ReconcileReport) -> Generation | None:
    generation = Generation.objects.filter(upstream_id=row.generation_id).first()
    if generation is not None:
        _settled_row(generation, row, report)
        return generation
    ids = directory_ids(row.target_directory)
    if ids is None:
        return None  # another app's directory under our root: not ours to judge
    team_id, generation_id = ids
    generation = Generation.objects.filter(public_id=generation_id).first()
    if generation is not None and generation.upstream_id is None:
        _attach(generation, row, report)
        return generation
    if row.status not in WORTH_ADOPTING:
        return generation
    if generation is not None:
        return _second_image(generation, row, report)
    return _lost_row(team_id, generation_id, row, report)


def _settled_row(generation: Generation, row: GenerationDetail, report: ReconcileReport) -> None:
    """A row that knows its job: adopt a billed result it gave up on; correct its cost."""
    report.matched += 1
    if generation.status in (Status.FAILED, Status.CANCELLED) and row.status in WORTH_ADOPTING:
        _adopt(generation, row, report, f"it was {generation.status} here")
    if (
        generation.status == Status.SUCCEEDED
        and row.cost is not None
        and generation.cost != row.cost
    ):
        old = generation.cost
        # updated_at too: the live pages' versions are read from it (every write sets it).
        Generation.objects.filter(pk=generation.pk).update(cost=row.cost, updated_at=timezone.now())
        reservations_settle(generation_ids=[generation.pk])  # the budget counts the charge
        detail = f"Oxen charged {row.cost}; the gallery had {old if old is not None else 'none'}."
        _record(generation, Action.COST, detail, row)
        report.costs.append(f"{generation.public_id}: {old} -> {row.cost}")


def _attach(generation: Generation, row: GenerationDetail, report: ReconcileReport) -> None:
    """A row that never learnt its job's id: an unconfirmed POST that did reach Oxen. Adopted
    unless it is being submitted right now (its own search will find the job)."""
    locked = generation_lock(generation.pk)
    if locked is None or locked.upstream_id is not None:
        return
    if locked.status not in (Status.PENDING, Status.FAILED, Status.CANCELLED):
        report.not_adopted.append(f"{row.generation_id}: its row is being submitted")
        return
    locked.upstream_id = row.generation_id
    locked.save(update_fields=["upstream_id", "updated_at"])
    report.matched += 1
    if row.status in WORTH_ADOPTING:
        _adopt(locked, row, report, "the gallery never learnt Oxen had it")


def _adopt(
    generation: Generation, row: GenerationDetail, report: ReconcileReport, why: str
) -> None:
    locked = generation_lock(generation.pk)
    if locked is None or locked.status not in (Status.PENDING, Status.FAILED, Status.CANCELLED):
        return
    before = locked.status
    locked.deadline_at = timezone.now() + timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES)
    locked.last_error = ""
    locked.waits = 0
    if row.status == "succeeded" and before != Status.PENDING:
        locked.upstream_status = "succeeded"
        locked.result_url = row.result_url or ""
        locked.transition_to(Status.DOWNLOADING)
        locked.save()
        report.ingest.append(locked.pk)
    else:
        locked.transition_to(Status.QUEUED)
        locked.save()
        if apply_upstream_status(generation_id=locked.pk, upstream=row).ingest:
            report.ingest.append(locked.pk)
    detail = f"Oxen reports {row.status} ({row.generation_id}); {why}, status {before}."
    _record(locked, Action.ADOPTED, detail, row)
    report.adopted.append(f"{locked.public_id}: {detail}")


def _second_image(
    generation: Generation, row: GenerationDetail, report: ReconcileReport
) -> Generation:
    """Two jobs for one image: nothing billed is discarded, so the second gets its own row."""
    sibling = _row_for(generation.request, generation.team, row, report)
    detail = (
        f"Oxen made a second image for {generation.public_id} ({row.generation_id}): a POST "
        "that was not confirmed did reach Oxen after all. Both are kept."
    )
    _record(sibling, Action.DUPLICATE, detail, row)
    _record(generation, Action.DUPLICATE, detail, row)
    report.duplicates.append(f"{generation.public_id}: {row.generation_id} kept as {sibling}")
    return sibling


def _lost_row(
    team_id: uuid.UUID | None,
    generation_id: uuid.UUID,
    row: GenerationDetail,
    report: ReconcileReport,
) -> Generation | None:
    """An image Oxen made for a row the database no longer has: rebuilt from Oxen's record."""
    team = Team.objects.filter(public_id=team_id).first() if team_id else None
    if team is None:
        why = "no team" if team_id is None else f"team {team_id} is not in this gallery"
        report.not_adopted.append(f"{row.generation_id} ({row.target_directory}): {why}")
        return None
    parameters = {
        key: value
        for key, value in row.params.items()
        if key not in _NOT_PARAMETERS and isinstance(value, str | int | float | bool)
    }
    request = GenerationRequest.objects.create(
        team=team,
        author=None,
        model=row.model_name,
        prompt=row.prompt or "",
        parameters=parameters,
        batch_size=1,
    )
    generation = _row_for(request, team, row, report, public_id=generation_id)
    detail = (
        f"Oxen made this image ({row.generation_id}, {row.status}) and the gallery had no "
        "record of it: rebuilt from Oxen's record of the request."
    )
    _record(generation, Action.ADOPTED, detail, row)
    report.adopted.append(f"{generation.public_id}: {detail}")
    return generation


def _row_for(
    request: GenerationRequest,
    team: Team,
    row: GenerationDetail,
    report: ReconcileReport,
    *,
    public_id: uuid.UUID | None = None,
) -> Generation:
    """A new row for an upstream job: it enters as queued with its id (an adoption move) and
    takes Oxen's status at once."""
    now = timezone.now()
    last = Generation.objects.filter(request=request).aggregate(Max("index"))["index__max"]
    generation = Generation(
        request=request,
        team=team,
        index=0 if last is None else last + 1,
        target_directory=row.target_directory or "",
        deadline_at=now + timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES),
        next_check_at=now,
        transitions=[[Status.PENDING, now.isoformat()]],
        upstream_id=row.generation_id,
        submitted_at=row.enqueued_at,
    )
    if public_id is not None:
        generation.public_id = public_id
    generation.transition_to(Status.QUEUED)
    generation.save()
    if apply_upstream_status(generation_id=generation.pk, upstream=row).ingest:
        report.ingest.append(generation.pk)
    generation.refresh_from_db()
    return generation


def _ingest_after_commit(pk: int) -> None:
    transaction.on_commit(lambda: tasks.generation_ingest.delay(pk))


def _record(generation: Generation, action: str, detail: str, row: GenerationDetail) -> None:
    Reconciliation.objects.create(
        generation=generation, action=action, detail=detail, upstream_id=row.generation_id
    )


def _ledger_write(row: GenerationDetail, generation: Generation | None) -> None:
    UpstreamGeneration.objects.update_or_create(
        upstream_id=row.generation_id,
        defaults={
            "target_directory": row.target_directory or "",
            "generation": generation,
            "status": row.status,
            "cost": row.cost,
            "error_message": row.error_message or "",
            "model": row.model_name,
            "enqueued_at": row.enqueued_at,
            "completed_at": row.completed_at,
        },
    )
