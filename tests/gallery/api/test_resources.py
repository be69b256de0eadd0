"""The API's resources over the same services as the pages: generations (made with uploaded,
library and URL references, listed with a cursor, cancelled, retried), images (listed,
read, downloaded, marked), references, review, shared links, the team; problem details
with field paths; Idempotency-Key; per-token rate limits."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gallery.accounts.models import User
from gallery.api.models import IdempotencyKey
from gallery.generation.models import Generation, GenerationRequest, Reference
from gallery.sharing.models import ShareLink
from gallery.team.models import Team
from seedream.simulator import Simulator
from tests.conftest import drive, png_bytes
from tests.factories import make_image, make_item
from tests.gallery.api.conftest import ApiClient

pytestmark = pytest.mark.django_db
QUEUE_POST = "POST /api/ai/queue"


def _files() -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile("red.png", png_bytes((64, 48), (200, 30, 30)), "image/png"),
        SimpleUploadedFile("blue.png", png_bytes((64, 48), (30, 30, 200)), "image/png"),
    ]


def test_the_same_idempotency_key_twice_makes_one_generation_and_one_upstream_post(
    oxen_sim: Simulator, api_client: Callable[..., ApiClient]
) -> None:
    client = api_client()
    body = {"prompt": "a lighthouse at dusk", "parameters": {"size": "2K"}, "batch_size": 1}
    first = client.post(
        "/api/v1/generations",
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="nightly-0001",
    )
    assert first.status_code == 201, first.content
    again = client.post(
        "/api/v1/generations",
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="nightly-0001",
    )
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert GenerationRequest.objects.count() == 1
    drive(list(Generation.objects.values_list("pk", flat=True)))
    assert oxen_sim.counters()[QUEUE_POST] == 1

    changed = client.post(
        "/api/v1/generations",
        {**body, "prompt": "a different prompt"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="nightly-0001",
    )
    assert changed.status_code == 422
    assert "different request" in changed.json()["detail"]
    assert GenerationRequest.objects.count() == 1


def test_multipart_submit_with_files_is_idempotent_whatever_the_boundary(
    oxen_sim: Simulator, api_client: Callable[..., ApiClient]
) -> None:
    client = api_client()
    data = {"prompt": "@Image1 meets @Image2", "parameters": '{"size": "2K"}', "batch_size": 2}
    first = client.post(
        "/api/v1/generations/upload", {**data, "files": _files()}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert first.status_code == 201, first.content
    made = first.json()
    assert len(made["reference_ids"]) == 2 and len(made["generations"]) == 2
    again = client.post(
        "/api/v1/generations/upload", {**data, "files": _files()}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert again.json() == made
    assert GenerationRequest.objects.count() == 1
    assert IdempotencyKey.objects.get().status_code == 201


def test_a_refused_submit_names_each_field_by_its_path(
    oxen_sim: Simulator, api_client: Callable[..., ApiClient]
) -> None:
    client = api_client()
    response = client.post(
        "/api/v1/generations",
        {"prompt": "x", "parameters": {"size": "8K"}},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="bad-1",
    )
    assert response.status_code == 422
    problem = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert problem["status"] == 422 and problem["title"]
    assert [e["field"] for e in problem["errors"]] == ["body.parameters.size"]
    assert not IdempotencyKey.objects.exists()  # nothing made: the key may be used again
    missing = client.post("/api/v1/generations", {"batch_size": 9}, content_type="application/json")
    fields = {e["field"] for e in missing.json()["errors"]}
    assert {"body.data.prompt", "body.data.batch_size"} <= fields


def test_a_reference_url_to_a_private_address_is_refused_without_a_fetch(
    oxen_sim: Simulator, api_client: Callable[..., ApiClient]
) -> None:
    response = api_client().post(
        "/api/v1/generations",
        {"prompt": "@Image1", "reference_urls": ["https://127.0.0.1/cat.png"]},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.references"
    assert "private" in response.json()["errors"][0]["message"]
    for url in ["http://example.com/a.png", f"{oxen_sim.base_url}/x.png"]:
        refused = api_client().post(
            "/api/v1/generations",
            {"prompt": "p", "reference_urls": [url]},
            content_type="application/json",
        )
        assert refused.status_code == 422, url
    assert GenerationRequest.objects.count() == 0


def test_library_references_by_id_and_another_teams_is_404(
    oxen_sim: Simulator,
    api_client: Callable[..., ApiClient],
    make_reference: Callable[..., Reference],
    make_user: Callable[..., User],
) -> None:
    from gallery.generation.references import reference_upload
    from gallery.team.services import team_create

    ours = make_reference()
    stranger = make_user("stranger")
    theirs = reference_upload(
        team=team_create(name="Other", owner=stranger),
        user=stranger,
        upload=__import__("io").BytesIO(png_bytes()),
        name="x.png",
    )
    client = api_client()
    made = client.post(
        "/api/v1/generations",
        {"prompt": "@Image1 at sea", "reference_ids": [str(ours.public_id)]},
        content_type="application/json",
    )
    assert made.status_code == 201
    assert made.json()["reference_ids"] == [str(ours.public_id)]
    refused = client.post(
        "/api/v1/generations",
        {"prompt": "@Image1", "reference_ids": [str(theirs.public_id)]},
        content_type="application/json",
    )
    assert refused.status_code == 404


def test_references_upload_and_list(
    api_client: Callable[..., ApiClient], media_storage: Path
) -> None:
    client = api_client()
    response = client.post("/api/v1/references", {"files": _files()})
    assert response.status_code == 201, response.content
    uploaded = response.json()["items"]
    assert [r["name"] for r in uploaded] == ["red.png", "blue.png"]
    listed = client.get("/api/v1/references").json()
    assert {r["id"] for r in listed["items"]} == {r["id"] for r in uploaded}
    bad = client.post(
        "/api/v1/references", {"files": [SimpleUploadedFile("x.png", b"not an image")]}
    )
    assert bad.status_code == 422
    assert "x.png" in bad.json()["errors"][0]["message"]


def test_generations_list_pages_with_a_cursor_and_filters(
    api_client: Callable[..., ApiClient], team: Team, member: User
) -> None:
    for prompt in ["one fox", "two foxes", "three foxes"]:
        make_item(team, member, prompt=prompt)
    make_item(team, member, prompt="a failure", status="failed", error="no")
    client = api_client(["read"])
    first = client.get("/api/v1/generations?status=succeeded&limit=2").json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(
        f"/api/v1/generations?status=succeeded&limit=2&cursor={first['next_cursor']}"
    ).json()
    assert [g["prompt"] for g in first["items"] + second["items"]] == [
        "three foxes",
        "two foxes",
        "one fox",
    ]
    assert second["next_cursor"] is None
    failed = client.get("/api/v1/generations?status=failed").json()["items"]
    assert [(g["status"], g["error"]) for g in failed] == [("failed", "no")]
    assert client.get("/api/v1/generations?cursor=garbage").status_code == 422


def test_retry_and_cancel(
    oxen_sim: Simulator, api_client: Callable[..., ApiClient], team: Team, member: User
) -> None:
    failed = make_item(team, member, status="failed", error="Oxen could not make it.")
    client = api_client()
    retried = client.post(
        f"/api/v1/generations/{failed.public_id}/retry", HTTP_IDEMPOTENCY_KEY="r1"
    )
    assert retried.status_code == 201, retried.content
    new_id = retried.json()["id"]
    assert new_id != str(failed.public_id) and retried.json()["status"] == "pending"
    again = client.post(f"/api/v1/generations/{failed.public_id}/retry", HTTP_IDEMPOTENCY_KEY="r1")
    assert again.json()["id"] == new_id
    cancelled = client.post(f"/api/v1/generations/{new_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/generations/{new_id}/cancel").status_code == 409
    done = make_item(team, member)
    assert client.post(f"/api/v1/generations/{done.public_id}/retry").status_code == 400


def test_images_list_detail_downloads_and_favourite(
    api_client: Callable[..., ApiClient], team: Team, member: User, media_storage: Path
) -> None:
    approved = make_image(team, member, state="approved", prompt="approved one")
    make_image(team, member, state="pending", prompt="pending one")
    client = api_client(["read"])
    listed = client.get("/api/v1/images?review=approved&since=2000-01-01").json()["items"]
    assert [i["id"] for i in listed] == [str(approved.public_id)]
    detail = client.get(f"/api/v1/images/{approved.public_id}").json()
    assert detail["prompt"] == "approved one"
    assert detail["parameters"] == {"size": "2K"} and detail["model"]
    original = client.get(detail["original_url"])
    assert original.status_code == 200
    content = b"".join(original.streaming_content)
    assert hashlib.sha256(content).hexdigest() == approved.sha256 or content == (
        Path(media_storage / approved.file.name).read_bytes()
    )
    thumb = client.get(detail["thumbnail_url"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"
    assert client.put(f"/api/v1/images/{approved.public_id}/favourite").json()["favourite"]
    assert client.get(f"/api/v1/images/{approved.public_id}").json()["favourite"] is True
    assert client.delete(f"/api/v1/images/{approved.public_id}/favourite").json() == {
        "id": str(approved.public_id),
        "favourite": False,
    }


def test_review_queue_and_decision_for_staff_only(
    team: Team, member: User, make_token: Callable[..., str], media_storage: Path
) -> None:
    image = make_image(team, member, state="pending")
    owner = User.objects.get(username="owner")
    not_staff = ApiClient(make_token(owner, team, ["read", "review"]))
    assert not_staff.get("/api/v1/review/queue").status_code == 403
    owner.is_staff = True
    owner.save()
    staff = ApiClient(make_token(owner, team, ["read", "review"]))
    queue = staff.get("/api/v1/review/queue").json()["items"]
    assert [i["id"] for i in queue] == [str(image.public_id)]
    decided = staff.post(
        f"/api/v1/review/images/{image.public_id}/decision",
        {"state": "approved", "note": "fine"},
        content_type="application/json",
    )
    assert decided.json() == {
        "id": str(image.public_id),
        "review_state": "approved",
        "changed": True,
    }
    assert staff.get("/api/v1/review/queue").json()["items"] == []
    bad = staff.post(
        f"/api/v1/review/images/{image.public_id}/decision",
        {"state": "maybe"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.data.state"


def test_share_links_create_list_update_revoke(
    api_client: Callable[..., ApiClient], team: Team, member: User, media_storage: Path
) -> None:
    image = make_image(team, member, state="approved")
    client = api_client(["read", "share"])
    created = client.post(
        "/api/v1/share-links",
        {"image_ids": [str(image.public_id)], "expires_in_days": 7, "note": "client"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="share-1",
    )
    assert created.status_code == 201, created.content
    link = created.json()
    assert link["url"].startswith("http") and "/s/" in link["url"]
    assert (
        Client().get(link["url"].split("://", 1)[1].split("/", 1)[1].join(["/", ""])).status_code
        == 200
    )
    listed = client.get("/api/v1/share-links").json()["items"]
    assert [item["id"] for item in listed] == [link["id"]]
    changed = client.patch(
        f"/api/v1/share-links/{link['id']}",
        {"note": "new client", "allow_download": False},
        content_type="application/json",
    ).json()
    assert (changed["note"], changed["allow_download"]) == ("new client", False)
    revoked = client.post(f"/api/v1/share-links/{link['id']}/revoke").json()
    assert revoked["state"] == "revoked"
    assert ShareLink.objects.get().revoked_at is not None


def test_team_and_members(api_client: Callable[..., ApiClient]) -> None:
    client = api_client(["read"])
    team = client.get("/api/v1/team").json()
    assert (team["name"], team["role"], team["scopes"]) == ("Design", "member", ["read"])
    members = client.get("/api/v1/team/members").json()["items"]
    assert {(m["username"], m["role"]) for m in members} == {
        ("owner", "owner"),
        ("member", "member"),
    }


def test_rate_limit_is_per_token_with_retry_after(
    api_client: Callable[..., ApiClient], settings: object
) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 2  # type: ignore[attr-defined]
    client = api_client(["read"])
    assert [client.get("/api/v1/team").status_code for _ in range(2)] == [200, 200]
    limited = client.get("/api/v1/team")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["status"] == 429
    assert api_client(["read"]).get("/api/v1/team").status_code == 200  # another token


@pytest.mark.parametrize("url", ["/api/v1/generations", "/api/v1/images", "/api/v1/share-links"])
def test_a_list_costs_the_same_queries_for_2_items_or_12(
    api_client: Callable[..., ApiClient], team: Team, member: User, url: str
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gallery.sharing import services as sharing_services
    from gallery.team.models import Membership

    client = api_client(["read"])
    membership = Membership.objects.get(team=team, user=member)
    counts = []
    for total in (2, 12):
        while GenerationRequest.objects.count() < total:
            generation = make_item(team, member)
            sharing_services.share_link_create(
                membership=membership, images=[generation.image], expires_in_days=7
            )
        client.get(url)  # warm: the token's last-used write, the cache
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200 and len(response.json()["items"]) == total
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
