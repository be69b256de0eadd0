"""Issue 9, "What was seen": each symptom reproduced against the simulator over a real socket.

Every billed image is kept: refusals (429, a connection that never opened) are waits, not
attempts; once Oxen reports success the result is fetched until the deadline; a short outage
while preparing a request is waited out; a POST that provably created nothing is sent again;
references are checked at upload against the limits Oxen states; a redirected or refused
result stays recoverable.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from gallery import oxen
from gallery.accounts.models import User
from gallery.generation import ingest, retry, submit, track
from gallery.generation.models import GalleryImage, Generation, GenerationRequest, Reference
from gallery.team.models import Team
from seedream.client import _schema_cache
from seedream.simulator import Simulator
from tests.conftest import drive, ids, new_request, png_bytes

pytestmark = pytest.mark.django_db
QUEUE_POST = "POST /api/ai/queue"
FILE_GET = "GET /api/repos/{namespace}/{repo}/file/{branch}/{path}"


def finished_upstream(sim: Simulator, team: Team, member: User) -> tuple[int, str]:
    """A generation submitted and finished (billed) upstream: its row and Oxen's id."""
    [pk] = ids(new_request(team, member))
    submit.generation_submit(generation_id=pk)
    upstream_id = Generation.objects.get(pk=pk).upstream_id
    assert upstream_id
    sim.finish(upstream_id)
    return pk, upstream_id


def upstream_per_directory(sim: Simulator) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in sim.generations():
        counts[row["target_directory"]] = counts.get(row["target_directory"], 0) + 1
    return counts


# -- 1. rate limits: a refusal is a wait, never an attempt -------------------------------------


def test_refused_posts_and_a_refused_download_do_not_use_up_the_attempts(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    """The row from the report: three 429s on the POST, then a 429 on the first download.
    It used to fail "Gave up after 5 attempts" although Oxen had made (and billed) it."""
    oxen_sim.inject(QUEUE_POST, status=429, retry_after=0, times=3)
    oxen_sim.inject(FILE_GET, status=429, retry_after=0, times=1)
    [pk] = ids(new_request(team, member))
    drive([pk])
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "succeeded", generation.last_error
    assert GalleryImage.objects.filter(generation=generation).exists()
    assert oxen_sim.generations_created == 1
    assert generation.attempts == 1  # one POST reached Oxen; the three 429s were waits


def test_sustained_rate_limits_on_every_route_lose_no_billed_image(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    oxen_sim.set_scenarios(rate_limit_every=3, rate_limit_retry_after=1)
    request = new_request(team, member, batch=4)
    drive(ids(request), timeout=90)
    rows = list(request.generations.all())
    assert [g.status for g in rows] == ["succeeded"] * 4, [g.last_error for g in rows]
    assert all(n == 1 for n in upstream_per_directory(oxen_sim).values())
    assert oxen_sim.generations_created == 4


# -- 2. an Oxen restart while a billed result waits to be fetched --------------------------------


def test_a_result_that_finished_during_an_outage_is_fetched_when_oxen_is_back(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    pk, upstream_id = finished_upstream(oxen_sim, team, member)
    url = oxen_sim.generation(upstream_id)["result_url"]
    assert track.generation_event_apply(
        upstream_id=upstream_id, status="succeeded", url=url, error=None
    ).ingest
    oxen_sim.stop_http()  # restarting: connections are refused for a while
    for _ in range(8):  # the task's retries during the downtime
        outcome = ingest.generation_ingest(generation_id=pk)
        assert outcome.seconds is not None and outcome.ingest  # it will look again
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "downloading", generation.last_error
    oxen_sim.start_http()
    drive([pk])
    assert Generation.objects.get(pk=pk).status == "succeeded"
    assert oxen_sim.generations_created == 1


# -- 3. a few seconds of outage while preparing a request -----------------------------------------


def test_an_outage_at_submit_time_is_waited_out_not_failed(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    [pk] = ids(new_request(team, member))
    _schema_cache.forget()  # the cached model schema has expired
    oxen_sim.stop_http()
    outcome = submit.generation_submit(generation_id=pk)
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "pending", generation.last_error
    assert outcome.seconds is not None  # it says it will try again, and it is scheduled to
    assert "try again" in generation.last_error
    assert generation.attempts == 0
    oxen_sim.start_http()
    drive([pk])
    assert Generation.objects.get(pk=pk).status == "succeeded"


def test_a_model_route_that_is_down_does_not_stop_submits(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    request = new_request(team, member, batch=2)
    _schema_cache.forget()
    oxen_sim.set_scenarios(schema_route="error")
    drive(ids(request))
    assert set(request.generations.values_list("status", flat=True)) == {"succeeded"}


# -- 5. the generate page while Oxen black-holes -------------------------------------------------


def test_the_generate_page_renders_from_the_stored_schema_while_oxen_black_holes(
    member_client: Client, oxen_sim: Simulator, settings: Any
) -> None:
    settings.OXEN_TIMEOUT = 3
    assert oxen.schema_refresh(model=settings.OXEN_MODEL)  # beat keeps a copy stored
    assert member_client.get("/generate/").status_code == 200
    _schema_cache.forget()
    oxen_sim.set_scenarios(schema_route="blackhole")
    started = time.monotonic()
    response = member_client.get("/generate/")
    first = time.monotonic() - started
    html = response.content.decode()
    assert response.status_code == 200
    assert first < 4.0, first
    assert 'name="p_size"' in html  # the form is built from the stored schema
    assert "using the settings stored at" in html
    assert not re.search(r'class="btn btn-primary" disabled>Generate', html)
    started = time.monotonic()
    assert member_client.get("/generate/").status_code == 200
    assert time.monotonic() - started < 1.0  # the failure is remembered for a while


# -- 6. references Seedream takes, checked when they are added -----------------------------------


def test_a_tall_reference_within_seedreams_aspect_limits_is_generated(
    oxen_sim: Simulator, team: Team, member: User, make_reference: Callable[..., Reference]
) -> None:
    tall = make_reference((20, 120, 20), size=(48, 300))
    request = new_request(team, member, references=[tall], batch=2, prompt="@Image1 as a tower")
    drive(ids(request))
    rows = list(request.generations.all())
    assert [g.status for g in rows] == ["succeeded", "succeeded"], [g.last_error for g in rows]


def test_a_reference_too_small_for_seedream_is_refused_at_upload(
    member_client: Client, oxen_sim: Simulator
) -> None:
    tiny = SimpleUploadedFile("tiny.png", png_bytes((2, 2)), content_type="image/png")
    response = member_client.post(
        "/generate/", {"prompt": "x @Image1", "batch_size": "1", "uploads": [tiny]}
    )
    html = response.content.decode()
    assert response.status_code == 422
    reference_field = html.split('id="ref-errors"', 1)[1].split("</ul>", 1)[0]
    assert "tiny.png" in reference_field and "14 px" in reference_field
    assert not Reference.objects.exists()
    assert not GenerationRequest.objects.exists()
    upload = SimpleUploadedFile("tiny.png", png_bytes((2, 2)), content_type="image/png")
    chips = member_client.post("/references/upload/", {"uploads": [upload]})
    assert chips.status_code == 422 and "tiny.png" in chips.content.decode()
    assert not Reference.objects.exists()


# -- 7. the same file twice in one form ------------------------------------------------------------


def test_the_same_file_twice_is_used_once_and_the_prompt_numbers_follow(
    member_client: Client, oxen_sim: Simulator
) -> None:
    def upload(name: str, colour: tuple[int, int, int]) -> SimpleUploadedFile:
        return SimpleUploadedFile(name, png_bytes((48, 48), colour), content_type="image/png")

    response = member_client.post(
        "/generate/",
        {
            "prompt": "@Image1 beside @Image3",
            "batch_size": "1",
            "p_size": "2K",
            "uploads": [
                upload("a.png", (250, 0, 0)),
                upload("a-again.png", (250, 0, 0)),
                upload("b.png", (0, 0, 250)),
            ],
        },
    )
    html = response.content.decode()
    assert response.status_code == 422  # shown before anything is sent or charged
    assert not GenerationRequest.objects.exists()
    reference_field = html.split('id="ref-errors"', 1)[1].split("</ul>", 1)[0]
    assert "a-again.png" in reference_field and "@Image1" in reference_field
    assert "@Image1 beside @Image2</textarea>" in html
    chips = re.findall(r'name="reference" value="([0-9a-f-]+)" checked', html)
    assert len(chips) == 2


def test_a_request_records_exactly_the_references_it_sends(
    oxen_sim: Simulator, team: Team, member: User, make_reference: Callable[..., Reference]
) -> None:
    a, b = make_reference((250, 0, 0)), make_reference((0, 0, 250))
    request = new_request(team, member, references=[a, a, b], prompt="@Image1 beside @Image3")
    assert [r.pk for r in request.ordered_references()] == [a.pk, b.pk]
    assert request.prompt == "@Image1 beside @Image2"
    drive(ids(request))
    [body] = oxen_sim.received(QUEUE_POST)
    assert len(body["input_image"]) == len(request.ordered_references()) == 2


# -- 8. results redirected to another host ---------------------------------------------------------


def test_a_redirected_result_is_downloaded_without_the_key(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    oxen_sim.set_scenarios(redirect_results=True)
    request = new_request(team, member)
    drive(ids(request))
    assert request.generations.get().status == "succeeded"
    mirrored = oxen_sim.mirror_requests()
    assert mirrored and not any(r["authorization"] for r in mirrored)


def test_a_result_url_on_a_host_not_allowed_is_replaced_by_a_fresh_one_from_oxen(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    pk, upstream_id = finished_upstream(oxen_sim, team, member)
    elsewhere = oxen_sim.result_url(upstream_id).replace(oxen_sim.base_url, "https://cdn.invalid")
    assert track.generation_event_apply(
        upstream_id=upstream_id, status="succeeded", url=elsewhere, error=None
    ).ingest
    ingest.generation_ingest(generation_id=pk)  # the event's URL is refused by the settings
    assert Generation.objects.get(pk=pk).status != "failed"
    drive([pk])
    assert Generation.objects.get(pk=pk).status == "succeeded"
    assert oxen_sim.counters()[QUEUE_POST] == 1


def test_a_result_refused_by_the_download_settings_is_kept_and_downloads_after_they_change(
    oxen_sim: Simulator, team: Team, member: User, settings: Any, client: Client
) -> None:
    settings.OXEN_DOWNLOAD_PUBLIC_REDIRECTS = False  # only listed hosts, redirects included
    oxen_sim.set_scenarios(redirect_results=True)
    [pk] = ids(new_request(team, member))
    drive([pk])
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "failed"
    assert generation.result_billed
    assert generation.last_error.startswith("Oxen made this image; downloading it failed:")
    settings.OXEN_DOWNLOAD_HOSTS = ["localhost"]
    again = retry.generation_retry(generation_id=pk)
    assert again.pk == pk  # the same image downloaded, not a new generation
    drive([pk])
    assert Generation.objects.get(pk=pk).status == "succeeded"
    assert oxen_sim.counters()[QUEUE_POST] == 1 and oxen_sim.generations_created == 1


# -- 9. a POST answered by a 503 page before any work ----------------------------------------------


def test_a_post_that_provably_created_nothing_is_sent_again_to_the_same_directory(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    oxen_sim.inject(QUEUE_POST, status=503, html=True, times=1)
    [pk] = ids(new_request(team, member))
    submit.generation_submit(generation_id=pk)
    assert Generation.objects.get(pk=pk).status == "submitting"
    Generation.objects.filter(pk=pk).update(submitted_at=timezone.now() - timedelta(minutes=5))
    outcome = submit.generation_find_orphan(generation_id=pk)
    assert Generation.objects.get(pk=pk).status != "failed"
    assert outcome.seconds is not None
    drive([pk])
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "succeeded", generation.last_error
    bodies = oxen_sim.received(QUEUE_POST)
    assert len(bodies) == 2
    assert {b["target_directory"] for b in bodies} == {generation.target_directory}
    assert oxen_sim.generations_created == 1
