"""The generation pipeline against the simulator over a real socket: every generation is
tracked to the end, none is lost, none is POSTed twice."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from gallery.accounts.models import User
from gallery.generation import ingest, retry, submit, track
from gallery.generation.create import GenerationInputError
from gallery.generation.models import GalleryImage, Generation, GenerationRequest, Reference
from gallery.oxen import get_schema
from gallery.team.models import Team
from seedream.simulator import Simulator
from tests.conftest import drive, ids, new_request

pytestmark = pytest.mark.django_db
QUEUE_POST = "POST /api/ai/queue"


def test_batch_with_references_ends_in_stored_images(
    oxen_sim: Simulator,
    team: Team,
    member: User,
    make_reference: Callable[..., Reference],
    media_storage: Path,
) -> None:
    refs = [make_reference((200, 30, 30)), make_reference((30, 30, 200))]
    request = new_request(team, member, references=refs, batch=2)
    drive(ids(request))

    rows = list(request.generations.order_by("index"))
    assert [g.status for g in rows] == ["succeeded", "succeeded"]
    assert oxen_sim.counters()[QUEUE_POST] == 2
    sent = oxen_sim.received(QUEUE_POST)
    assert {body["target_directory"] for body in sent} == {g.target_directory for g in rows}
    assert all(len(body["input_image"]) == 2 for body in sent)
    assert all(value.startswith("data:image/") for value in sent[0]["input_image"])
    assert "output_format" not in sent[0]  # the current schema has no such field

    for generation in rows:
        image = generation.image
        assert (image.width, image.height) == (256, 256)
        assert image.format == "JPEG" and len(image.sha256) == 64
        assert (media_storage / image.file.name).stat().st_size == image.bytes
        assert [t.width for t in image.thumbnails.all()] == [256] or image.thumbnails.exists()
        assert image.placeholder
        assert generation.cost == Decimal("0.04")
        statuses = [status for status, _ in generation.transitions]
        assert statuses[0] == "pending" and statuses[-1] == "succeeded"
        assert "submitting" in statuses and "downloading" in statuses

    request.refresh_from_db()
    recorded = request.request_body["input_image"]
    assert all(marker.startswith("data:image/jpeg;base64,…(sha256=") for marker in recorded)
    assert request.request_schema["properties"]["input_image"]["type"] == "array"


def test_legacy_schema_is_sent_with_the_legacy_names(
    oxen_sim: Simulator, team: Team, member: User, make_reference: Callable[..., Reference]
) -> None:
    oxen_sim.set_schema_era("legacy")
    ref = make_reference()
    request = new_request(team, member, references=[ref])
    drive(ids(request))
    body = oxen_sim.received(QUEUE_POST)[0]
    assert isinstance(body["input_image"], str) and body["input_images"] == [body["input_image"]]


def test_too_many_references_is_refused_before_anything_is_sent(
    oxen_sim: Simulator, team: Team, member: User, make_reference: Callable[..., Reference]
) -> None:
    refs = [make_reference((i * 15, 10, 10)) for i in range(15)]
    with pytest.raises(GenerationInputError) as raised:
        new_request(team, member, references=refs)
    assert "references" in raised.value.by_field
    assert "14" in " ".join(raised.value.by_field["references"])
    assert GenerationRequest.objects.count() == 0
    assert oxen_sim.counters().get(QUEUE_POST, 0) == 0


def test_a_value_outside_the_schema_enum_names_the_field(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    with pytest.raises(GenerationInputError) as raised:
        new_request(team, member, size="8K")
    assert list(raised.value.by_field) == ["size"]


def test_failed_generation_keeps_its_request_and_a_readable_error(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    oxen_sim.script_outcomes("fail", error="Insufficient credits", times=1)
    request = new_request(team, member)
    drive(ids(request))
    generation = request.generations.get()
    assert generation.status == "failed"
    assert "Insufficient credits" in generation.last_error
    assert GenerationRequest.objects.filter(
        pk=request.pk, prompt__startswith="a lighthouse"
    ).exists()
    assert not GalleryImage.objects.exists()


def test_dropped_post_is_found_upstream_not_sent_again(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    oxen_sim.inject(QUEUE_POST, drop=True, times=1)
    request = new_request(team, member)
    [pk] = ids(request)
    outcome = submit.generation_submit(generation_id=pk)
    assert outcome.seconds is not None  # look again later, no second POST
    assert Generation.objects.get(pk=pk).status == "submitting"
    drive([pk])
    assert Generation.objects.get(pk=pk).status == "succeeded"
    assert oxen_sim.counters()[QUEUE_POST] == 1


def test_crash_between_post_and_commit_never_posts_twice(
    oxen_sim: Simulator, team: Team, member: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = new_request(team, member)
    [pk] = ids(request)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(submit, "_record_submitted", crash)
        with pytest.raises(SystemExit):
            submit.generation_submit(generation_id=pk)
    assert Generation.objects.get(pk=pk).status == "submitting"
    # The redelivered task runs again: it must look upstream, not POST.
    submit.generation_submit(generation_id=pk)
    generation = Generation.objects.get(pk=pk)
    assert generation.upstream_id and generation.status in {"queued", "processing", "downloading"}
    drive([pk])
    assert oxen_sim.counters()[QUEUE_POST] == 1


def test_unconfirmed_submits_that_are_never_upstream_end_clearly_after_the_attempts(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    request = new_request(team, member)
    [pk] = ids(request)
    long_ago = timezone.now() - timedelta(minutes=5)
    Generation.objects.filter(pk=pk).update(
        status="submitting", submitted_at=long_ago, attempts=settings.GENERATION_MAX_ATTEMPTS
    )
    submit.generation_find_orphan(generation_id=pk)
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "failed"
    assert "was not sent again" in generation.last_error
    assert oxen_sim.counters().get(QUEUE_POST, 0) == 0


def test_rate_limited_post_waits_for_retry_after(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    oxen_sim.inject(QUEUE_POST, status=429, retry_after=7, times=1)
    request = new_request(team, member)
    [pk] = ids(request)
    outcome = submit.generation_submit(generation_id=pk)
    assert outcome.seconds is not None and 7 <= outcome.seconds <= 7 * 1.25  # spread a little
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "pending" and "busy" in generation.last_error
    assert generation.attempts == 0  # a refusal is a wait, not an attempt
    assert generation.next_check_at > timezone.now() + timedelta(seconds=6)
    drive([pk])  # the task's countdown has passed: it submits again
    assert oxen_sim.counters()[QUEUE_POST] == 2  # the 429 was refused; one was accepted
    assert len(oxen_sim.generations()) == 1


def test_ingest_twice_changes_nothing(
    oxen_sim: Simulator, team: Team, member: User, media_storage: Path
) -> None:
    request = new_request(team, member)
    [pk] = ids(request)
    drive([pk])
    files = sorted(p for p in media_storage.rglob("*") if p.is_file())
    image = GalleryImage.objects.get()
    Generation.objects.filter(pk=pk).update(status="downloading")
    ingest.generation_ingest(generation_id=pk)
    assert GalleryImage.objects.get() == image
    assert sorted(p for p in media_storage.rglob("*") if p.is_file()) == files


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        ("truncated", "truncated"),
        ("wrong_format", "not"),
        ("bomb", "MP"),
    ],
)
def test_bad_results_fail_with_a_reason_and_store_nothing(
    oxen_sim: Simulator, team: Team, member: User, media_storage: Path, outcome: str, reason: str
) -> None:
    oxen_sim.script_outcomes(outcome, times=1)
    request = new_request(team, member)
    drive(ids(request))
    generation = request.generations.get()
    assert generation.status == "failed"
    assert reason in generation.last_error
    assert not GalleryImage.objects.exists()
    assert not (media_storage / "results").exists()


def test_oversized_result_is_refused(
    oxen_sim: Simulator, team: Team, member: User, settings: Any, media_storage: Path
) -> None:
    settings.OXEN_DOWNLOAD_MAX_BYTES = 2 * 1024 * 1024
    oxen_sim.script_outcomes("oversized", times=1)
    request = new_request(team, member)
    drive(ids(request))
    generation = request.generations.get()
    assert generation.status == "failed"
    assert not GalleryImage.objects.exists()


def test_completion_event_leads_to_ingest(oxen_sim: Simulator, team: Team, member: User) -> None:
    request = new_request(team, member)
    [pk] = ids(request)
    submit.generation_submit(generation_id=pk)
    generation = Generation.objects.get(pk=pk)
    oxen_sim.finish(generation.upstream_id)
    upstream = next(
        g for g in oxen_sim.generations() if g["generation_id"] == generation.upstream_id
    )
    outcome = track.generation_event_apply(
        upstream_id=generation.upstream_id,
        status="succeeded",
        url=upstream["result_url"],
        error=None,
    )
    assert outcome.ingest
    ingest.generation_ingest(generation_id=pk)
    assert Generation.objects.get(pk=pk).status == "succeeded"


def test_events_for_unknown_generations_are_ignored(oxen_sim: Simulator) -> None:
    outcome = track.generation_event_apply(
        upstream_id="not-ours", status="succeeded", url="https://x", error=None
    )
    assert not outcome.ingest


def test_cancel_a_queued_generation(oxen_sim: Simulator, team: Team, member: User) -> None:
    oxen_sim.script_outcomes("never", times=1)
    request = new_request(team, member)
    [pk] = ids(request)
    submit.generation_submit(generation_id=pk)
    assert retry.generation_cancel(generation_id=pk)
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "cancelled"
    upstream = next(
        g for g in oxen_sim.generations() if g["generation_id"] == generation.upstream_id
    )
    assert upstream["status"] == "cancelled"


def test_nothing_stays_in_flight_past_its_deadline(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    oxen_sim.script_outcomes("never", times=1)
    request = new_request(team, member)
    [pk] = ids(request)
    submit.generation_submit(generation_id=pk)
    Generation.objects.filter(pk=pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    track.generations_sweep()
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "failed"
    assert "within 30 minutes" in generation.last_error


def test_a_row_left_downloading_is_driven_again_once_per_stale_period(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    """Its ingest task was lost, or waits behind a long ingest queue (issue 15's burst): the
    sweep sends one more, then waits another stale period, instead of one at every sweep
    (every 2 s), each of which would queue behind the others."""
    request = new_request(team, member)
    [pk] = ids(request)
    stale = timezone.now() - timedelta(seconds=settings.GENERATION_STALE_SECONDS + 1)
    Generation.objects.filter(pk=pk).update(status="downloading", updated_at=stale)
    assert track.generations_sweep().ingest == [pk]
    assert track.generations_sweep().ingest == []
    Generation.objects.filter(pk=pk).update(updated_at=stale)
    assert track.generations_sweep().ingest == [pk]


def test_no_key_and_no_simulator_fails_with_a_clear_message(
    settings: Any, team: Team, member: User
) -> None:
    settings.OXEN_API_KEY = ""
    settings.OXEN_SIMULATOR = False
    from gallery.oxen import OxenNotConfiguredError

    with pytest.raises(OxenNotConfiguredError) as raised:
        get_schema(model=settings.OXEN_MODEL)
    assert "OXEN_API_KEY" in raised.value.user_message


def test_an_expired_result_url_is_refreshed_from_the_status_call(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    request = new_request(team, member)
    [pk] = ids(request)
    submit.generation_submit(generation_id=pk)
    generation = Generation.objects.get(pk=pk)
    oxen_sim.finish(generation.upstream_id)
    fresh = oxen_sim.generation(generation.upstream_id)["result_url"]
    expired = re.sub(r"exp=\d+", "exp=1000000000", fresh)
    assert track.generation_event_apply(
        upstream_id=generation.upstream_id, status="succeeded", url=expired, error=None
    ).ingest
    ingest.generation_ingest(generation_id=pk)
    assert Generation.objects.get(pk=pk).status == "succeeded"
    calls = oxen_sim.generation_counters(generation.upstream_id)
    assert calls["GET /api/ai/queue/{id}"] == 1  # the refresh


def test_references_hosted_in_an_oxen_repo_are_uploaded_once(
    oxen_sim: Simulator,
    team: Team,
    member: User,
    make_reference: Callable[..., Reference],
    settings: Any,
) -> None:
    settings.OXEN_REFERENCE_HOSTING = "oxen-repo"
    settings.OXEN_REFERENCE_REPO = "sim-user/gallery-refs"
    ref = make_reference()
    first = new_request(team, member, references=[ref])
    second = new_request(team, member, references=[ref], prompt="again, @Image1")
    drive(ids(first) + ids(second))
    assert set(Generation.objects.values_list("status", flat=True)) == {"succeeded"}
    ref.refresh_from_db()
    assert "/api/repos/sim-user/gallery-refs/file/" in ref.hosted_url
    assert ref.hosted_url.endswith(f"references/{ref.sha256}.{ref.extension}")
    bodies = oxen_sim.received(QUEUE_POST)
    assert [body["input_image"] for body in bodies] == [[ref.hosted_url]] * 2
    uploads = [k for k in oxen_sim.counters() if k.startswith("PUT /api/repos")]
    assert sum(oxen_sim.counters()[k] for k in uploads) == 1


def test_cancelling_an_image_oxen_already_made_keeps_it(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    request = new_request(team, member)
    [pk] = ids(request)
    submit.generation_submit(generation_id=pk)
    oxen_sim.finish(Generation.objects.get(pk=pk).upstream_id)
    assert not retry.generation_cancel(generation_id=pk)  # too late: it is made, and billed
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "downloading" and generation.result_billed
    drive([pk])
    assert Generation.objects.get(pk=pk).status == "succeeded"


def test_the_same_reference_twice_is_sent_once_and_later_tags_move_up(
    oxen_sim: Simulator, team: Team, member: User, make_reference: Callable[..., Reference]
) -> None:
    a, b, c = (make_reference(colour) for colour in [(250, 0, 0), (0, 250, 0), (0, 0, 250)])
    request = new_request(
        team, member, references=[a, b, a, c], prompt="@Image3 and @Image1 meet @Image4 @Image2"
    )
    assert [r.pk for r in request.ordered_references()] == [a.pk, b.pk, c.pk]
    assert request.prompt == "@Image1 and @Image1 meet @Image3 @Image2"
