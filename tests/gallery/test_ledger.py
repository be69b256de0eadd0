"""The upstream ledger: ``manage.py oxen_reconcile`` against the simulator's history."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client

from gallery.accounts.models import User
from gallery.browse.selectors import gallery_item_version
from gallery.generation import ingest, submit
from gallery.generation.ledger import generations_reconcile
from gallery.generation.models import (
    GalleryImage,
    Generation,
    GenerationRequest,
    Reconciliation,
    UpstreamGeneration,
)
from gallery.team.models import Membership, Team
from seedream.simulator import Simulator
from tests.conftest import drive, ids, new_request

pytestmark = pytest.mark.django_db
QUEUE_POST = "POST /api/ai/queue"
_EMPTY_PAGE = {
    "count": 0,
    "page_number": 1,
    "page_size": 50,
    "total_pages": 1,
    "total_entries": 0,
    "total_cost": "0",
    "generations": [],
}


def finished(team: Team, member: User, *, batch: int = 1, prompt: str = "a quiet harbour"):
    pks = ids(new_request(team, member, batch=batch, prompt=prompt))
    drive(pks)
    return list(Generation.objects.filter(pk__in=pks).order_by("index"))


def reconcile(*args: str) -> str:
    out = io.StringIO()
    call_command("oxen_reconcile", *args, stdout=out)
    return out.getvalue()


def ingest_all(ids: list[int]) -> None:
    for pk in ids:
        ingest.generation_ingest(generation_id=pk)


def test_oxen_reconcile_adopts_a_billed_result_the_database_lost(
    oxen_sim: Simulator, team: Team, member: User, admin_client: Client
) -> None:
    [generation] = finished(team, member, prompt="a lighthouse, lost and found")
    upstream_id, public_id = generation.upstream_id, generation.public_id
    GenerationRequest.objects.all().delete()  # the row, its image and request are gone
    assert not Generation.objects.exists()

    output = reconcile("--since", "7d")

    assert "1 adopted" in output and str(public_id) in output
    adopted = Generation.objects.get(upstream_id=upstream_id)
    assert adopted.public_id == public_id and adopted.team == team
    assert adopted.request.prompt == "a lighthouse, lost and found"
    assert adopted.status == "downloading" and adopted.result_billed
    ingest_all([adopted.pk])
    adopted.refresh_from_db()
    assert adopted.status == "succeeded" and GalleryImage.objects.filter(generation=adopted)
    assert adopted.reconciliations.get().action == "adopted"
    assert UpstreamGeneration.objects.get(upstream_id=upstream_id).generation == adopted
    assert oxen_sim.counters()[QUEUE_POST] == 1  # adopted, never generated again
    page = admin_client.get(f"/admin/gallery/generation/{adopted.pk}/change/").content.decode()
    assert "Reconciled" in page and "had no record of it" in page


def test_a_row_that_gave_up_on_a_billed_result_is_adopted(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    [generation] = finished(team, member)
    GalleryImage.objects.all().delete()
    # How the first release ended such rows: "Gave up after 5 attempts" though Oxen made it.
    Generation.objects.filter(pk=generation.pk).update(
        status="failed", last_error="Gave up after 5 attempts.", upstream_status=""
    )
    report = generations_reconcile(since=None)
    assert len(report.adopted) == 1 and report.ingest == [generation.pk]
    ingest_all(report.ingest)
    generation.refresh_from_db()
    assert generation.status == "succeeded" and generation.image
    history = [status for status, _ in generation.transitions]
    assert history[-2:] == ["downloading", "succeeded"]


def test_two_upstream_jobs_for_one_image_are_both_kept(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    """A POST dropped after Oxen created the job, and searches that do not show it: the image
    is sent again. When the first job turns up, both images are kept and it is recorded."""
    request = new_request(team, member, prompt="twins")
    [pk] = ids(request)
    oxen_sim.inject(QUEUE_POST, drop=True, times=1)
    oxen_sim.inject("GET /api/ai/queue", body={"generations": []}, times=1)
    oxen_sim.inject("GET /api/ai/generations", body=_EMPTY_PAGE, times=1)
    submit.generation_submit(generation_id=pk)
    Generation.objects.filter(pk=pk).update(submitted_at="2000-01-01T00:00:00Z")
    assert submit.generation_find_orphan(generation_id=pk).submit  # proved absent: again
    drive([pk])
    assert len(oxen_sim.generations()) == 2  # the first POST did create one after all
    for row in oxen_sim.generations():
        oxen_sim.wait_for(row["generation_id"], {"succeeded"})

    report = generations_reconcile(since=None)
    ingest_all(report.ingest)

    rows = list(Generation.objects.filter(request=request).order_by("index"))
    assert [g.status for g in rows] == ["succeeded", "succeeded"]
    assert {g.upstream_id for g in rows} == {g["generation_id"] for g in oxen_sim.generations()}
    assert GalleryImage.objects.filter(generation__request=request).count() == 2
    assert len(report.duplicates) == 1
    assert Reconciliation.objects.filter(action="duplicate").count() == 2


def test_costs_that_differ_from_what_oxen_charged_are_corrected(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    [generation] = finished(team, member)
    Generation.objects.filter(pk=generation.pk).update(cost=None)
    membership = Membership.objects.get(team=team, user=member)
    version = gallery_item_version(membership, generation.public_id)
    output = reconcile("--since", "all")
    generation.refresh_from_db()
    assert generation.cost == Decimal("0.04")
    # The live pages see the correction (their versions come from updated_at).
    assert gallery_item_version(membership, generation.public_id) != version
    assert "1 costs corrected" in output
    assert generation.reconciliations.get().action == "cost"
    assert "0 adopted" in reconcile()  # a second run finds nothing more to do


def test_a_history_that_cannot_be_read_in_full_changes_nothing(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    finished(team, member, batch=2)
    Generation.objects.update(cost=None)
    oxen_sim.inject("GET /api/ai/generations", status=503, times=None)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="could not be read in full"):
        reconcile()
    assert not Generation.objects.exclude(cost=None).exists()
    assert not UpstreamGeneration.objects.exists()


def test_the_sweep_notices_a_job_of_ours_that_no_row_knows(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    from gallery.generation import track

    oxen_sim.script_outcomes("never", times=2)
    first, second = ids(new_request(team, member, batch=2))
    for pk in (first, second):
        submit.generation_submit(generation_id=pk)
    # The second's POST "was never confirmed": its row does not know the job Oxen has.
    Generation.objects.filter(pk=second).update(upstream_id=None, status="failed")
    Generation.objects.filter(pk=first).update(next_check_at="2000-01-01T00:00:00Z")
    assert track.generations_sweep().strangers == 1
    report = generations_reconcile(since=None)
    # Adopted and followed again: queued or already processing, as Oxen's clock has it.
    adopted = Generation.objects.get(pk=second)
    assert adopted.upstream_id and adopted.status in Generation.UPSTREAM_ACTIVE
    assert len(report.adopted) == 1
