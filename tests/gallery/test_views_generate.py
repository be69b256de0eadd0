"""The generate form and the buttons acting on generations, against the simulator."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gallery import oxen
from gallery.accounts.models import User
from gallery.generation.models import Generation, GenerationRequest, Reference
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add
from seedream.schema import RequestSchema
from seedream.simulator import Simulator
from tests.conftest import drive, png_bytes
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def _png(name: str, colour: tuple[int, int, int] = (200, 40, 40)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes((48, 48), colour), content_type="image/png")


def test_the_form_is_built_from_the_schema(member_client: Client, oxen_sim: Simulator) -> None:
    html = member_client.get("/generate/").content.decode()
    assert re.search(r'<select name="p_size"[^>]*>\s*<option value="2K" selected>', html)
    assert 'name="p_watermark"' in html and 'type="checkbox"' in html
    assert "@Image1" in html and "up to 14" in html
    assert "$0.04" in html  # the price times the default batch of one


def test_a_field_the_schema_adds_appears_and_is_sent(
    member_client: Client,
    oxen_sim: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    team: Team,
    django_capture_on_commit_callbacks: Any,
) -> None:
    live = oxen.get_schema(model=settings.OXEN_MODEL)
    raw = dict(live.raw)
    raw["properties"] = {
        **raw["properties"],
        "seed": {"type": "integer", "title": "Seed", "minimum": 0, "maximum": 99, "x-order": 6},
        "style": {"type": "string", "enum": ["photo", "anime"], "x-order": 7},
        "secret_knob": {"type": "number", "x-hidden": True},
    }
    monkeypatch.setattr(
        oxen,
        "schema_read",
        lambda **_: oxen.SchemaRead(RequestSchema(raw, cost_per_image=Decimal("0.05"))),
    )
    html = member_client.get("/generate/").content.decode()
    assert 'name="p_seed"' in html and 'min="0"' in html and 'max="99"' in html
    assert 'name="p_style"' in html and "secret_knob" not in html
    bad = member_client.post("/generate/", {"prompt": "x", "batch_size": "3", "p_seed": "500"})
    assert bad.status_code == 422
    assert "Ensure this value is less than or equal to 99." in bad.content.decode()
    assert "$0.15" in bad.content.decode()  # 3 x 0.05, shown again with the error
    with django_capture_on_commit_callbacks():
        ok = member_client.post(
            "/generate/",
            {"prompt": "x", "batch_size": "1", "p_seed": "7", "p_style": "anime", "p_size": "4K"},
        )
    assert ok.status_code == 302
    request = GenerationRequest.objects.get()
    assert request.parameters == {"size": "4K", "watermark": False, "seed": 7, "style": "anime"}


def test_generating_with_uploads_creates_the_request_in_order(
    member_client: Client,
    oxen_sim: Simulator,
    team: Team,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = member_client.post(
            "/generate/",
            {
                "prompt": "@Image1 meets @Image2",
                "batch_size": "2",
                "p_size": "2K",
                "uploads": [_png("a.png", (250, 0, 0)), _png("b.png", (0, 0, 250))],
            },
        )
    request = GenerationRequest.objects.get()
    # Back to the form, as it was: iterate in place.
    assert response.status_code == 302
    assert response["Location"] == f"/generate/?last={request.public_id}"
    assert len(callbacks) == 1
    assert [r.original_name for r in request.ordered_references()] == ["a.png", "b.png"]
    assert request.generations.count() == 2
    drive(list(request.generations.values_list("pk", flat=True)))
    assert set(request.generations.values_list("status", flat=True)) == {"succeeded"}


def test_errors_keep_the_prompt_and_the_uploaded_references(
    member_client: Client, oxen_sim: Simulator
) -> None:
    response = member_client.post(
        "/generate/",
        {
            "prompt": "  ",
            "batch_size": "1",
            "uploads": [
                _png("kept.png"),
                SimpleUploadedFile("notes.txt", b"hello there", content_type="text/plain"),
            ],
        },
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "Write a prompt" in html
    assert "notes.txt:" in html  # the refusal names the file, beside the references
    kept = Reference.objects.get()
    assert f'name="reference" value="{kept.public_id}" checked' in html
    assert GenerationRequest.objects.count() == 0


def test_too_many_references_says_how_many_to_remove(
    member_client: Client, oxen_sim: Simulator, make_reference: Callable[..., Reference]
) -> None:
    refs = [make_reference((i * 16, 30, 30)) for i in range(15)]
    response = member_client.post(
        "/generate/",
        {"prompt": "many", "batch_size": "1", "reference": [str(r.public_id) for r in refs]},
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "at most 14 reference images; you have 15. Remove 1." in html
    assert html.count('name="reference" value="') >= 15
    assert "many</textarea>" in html


def test_the_drop_zone_upload_answers_with_chips_and_refusals(member_client: Client) -> None:
    response = member_client.post(
        "/references/upload/",
        {"uploads": [_png("x.png"), SimpleUploadedFile("x.html", b"<html>", "text/html")]},
    )
    html = response.content.decode()
    assert 'class="ref-chip"' in html and "x.html:" in html
    assert Reference.objects.count() == 1


def test_oxen_unreachable_is_said_plainly(member_client: Client, settings: Any) -> None:
    settings.OXEN_API_KEY = ""
    html = member_client.get("/generate/").content.decode()
    assert "Oxen is not configured on this server" in html
    assert re.search(r'<button type="submit" [^>]*data-unavailable disabled>Generate', html)
    kept = member_client.post("/generate/", {"prompt": "keep me", "batch_size": "1"})
    assert kept.status_code == 422 and "keep me" in kept.content.decode()


def test_viewers_cannot_generate(
    client: Client, team: Team, make_user: Callable[..., User]
) -> None:
    viewer = make_user("viewer")
    membership_add(team=team, user=viewer, role=Membership.Role.VIEWER)
    client.force_login(viewer)
    assert client.get("/generate/").status_code == 404
    assert client.post("/generate/", {"prompt": "x"}).status_code == 404
    assert client.post("/references/upload/").status_code == 404
    assert 'href="/generate/"' not in client.get("/").content.decode()


def test_remix_prefills_the_form(
    member_client: Client, oxen_sim: Simulator, team: Team, member: User
) -> None:
    item = make_item(team, member, prompt="Original words", parameters={"size": "4K"})
    html = member_client.get(f"/generate/?remix={item.request.public_id}").content.decode()
    assert "Original words" in html and "<h1>Remix</h1>" in html
    assert re.search(r'<option value="4K" selected>', html)
    assert f'value="{item.request.public_id}"' in html


def test_retry_makes_a_new_generation_and_the_failed_one_keeps_its_error(
    member_client: Client, team: Team, member: User, django_capture_on_commit_callbacks: Any
) -> None:
    failed = make_item(team, member, status="failed", error="Oxen could not make this image.")
    with django_capture_on_commit_callbacks() as callbacks:
        response = member_client.post(f"/items/{failed.public_id}/retry/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and len(callbacks) == 1
    new = Generation.objects.exclude(pk=failed.pk).get()
    assert new.request_id == failed.request_id and new.status == "pending"
    assert f'id="tile-{new.public_id}"' in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == "failed" and failed.last_error == "Oxen could not make this image."
    again = member_client.post(f"/items/{new.public_id}/retry/")
    assert again.status_code == 302  # a pending one cannot be retried; nothing new made
    assert Generation.objects.count() == 2


def test_cancel_stops_a_waiting_generation(member_client: Client, team: Team, member: User) -> None:
    waiting = make_item(team, member, status="pending")
    response = member_client.post(f"/items/{waiting.public_id}/cancel/", HTTP_HX_REQUEST="true")
    waiting.refresh_from_db()
    assert waiting.status == "cancelled"
    html = response.content.decode()
    assert "Cancelled" in html and "data-in-flight" not in html and ">Retry<" in html


def test_an_in_flight_tile_is_marked_for_the_page_poller_until_it_is_done(
    member_client: Client, team: Team, member: User
) -> None:
    item = make_item(team, member, status="processing")
    html = member_client.get(f"/items/{item.public_id}/tile/").content.decode()
    assert "data-in-flight" in html and "Generating" in html
    assert "hx-trigger" not in html  # no per-tile polling: one poll per page covers every tile
    Generation.objects.filter(pk=item.pk).update(status="failed", last_error="Out of credits.")
    html = member_client.get(f"/items/{item.public_id}/tile/").content.decode()
    assert "data-in-flight" not in html and "Out of credits." in html


def test_rerun_and_use_as_reference(
    member_client: Client,
    oxen_sim: Simulator,
    team: Team,
    member: User,
    media_storage: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    item = make_item(team, member, prompt="again please", files=True)
    with django_capture_on_commit_callbacks():
        response = member_client.post(f"/requests/{item.request.public_id}/rerun/")
    assert response.status_code == 302
    rerun = GenerationRequest.objects.exclude(pk=item.request_id).get()
    assert rerun.prompt == "again please" and rerun.remix_of_id == item.request_id
    response = member_client.post(f"/images/{item.image.public_id}/use-as-reference/")
    reference = Reference.objects.get()
    assert response["Location"] == f"/generate/?ref={reference.public_id}"
    html = member_client.get(response["Location"]).content.decode()
    assert f'name="reference" value="{reference.public_id}" checked' in html


def test_service_errors_are_shown_where_their_field_is_not_by_their_wording(
    member_client: Client, oxen_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request-wide problem that mentions images stays with the form's errors; only the
    references' own problems go beside the references (they were sorted by the word "image")."""
    from gallery.generation import views
    from gallery.generation.create import GenerationInputError

    def refuse(**_: Any) -> None:
        raise GenerationInputError(
            {
                "__all__": ["This plan makes at most 2 images a day."],
                "references": ["Reference 3 could not be read."],
            }
        )

    monkeypatch.setattr(views, "generation_request_create", refuse)
    response = member_client.post("/generate/", {"prompt": "a fox", "batch_size": "1"})

    assert response.status_code == 422
    html = response.content.decode()
    form_errors = html.split('class="form-error"', 1)[1].split("</div>", 1)[0]
    reference_field = html.split('id="ref-errors"', 1)[1].split("</ul>", 1)[0]
    assert "at most 2 images a day" in form_errors
    assert "at most 2 images a day" not in reference_field
    assert "Reference 3 could not be read." in reference_field


def test_a_billed_result_that_failed_to_download_offers_retry_download_not_a_new_image(
    member_client: Client, team: Team, member: User, django_capture_on_commit_callbacks: Any
) -> None:
    billed = make_item(
        team,
        member,
        status="failed",
        upstream_id="5d0c0d7e-0000-4000-8000-000000000001",
        error="Oxen made this image; downloading it failed: the result was unusable.",
    )
    Generation.objects.filter(pk=billed.pk).update(upstream_status="succeeded")
    tile = member_client.get(f"/items/{billed.public_id}/tile/").content.decode()
    assert "Download failed" in tile and ">Retry download<" in tile
    detail = member_client.get(f"/items/{billed.public_id}/").content.decode()
    assert "Oxen made this image; downloading it failed" in detail and "Retry download" in detail
    with django_capture_on_commit_callbacks() as callbacks:
        response = member_client.post(f"/items/{billed.public_id}/retry/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and len(callbacks) == 1  # the ingest, queued
    assert Generation.objects.count() == 1  # the same row, downloading again
    billed.refresh_from_db()
    assert billed.status == "downloading" and billed.last_error == ""


def test_showing_the_form_reads_the_schema_without_writing_a_row(
    member_client: Client, oxen_sim: Simulator
) -> None:
    from gallery.generation.models import StoredSchema

    assert member_client.get("/generate/").status_code == 200
    assert not StoredSchema.objects.exists()  # a GET changes no row: beat stores the copy
    assert oxen.schema_refresh(model=settings.OXEN_MODEL)
    assert StoredSchema.objects.get().model == settings.OXEN_MODEL
