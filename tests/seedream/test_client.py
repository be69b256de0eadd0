"""OxenClient routes and typed responses, on an ``httpx.MockTransport``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from seedream.config import ClientConfig, Secret
from seedream.errors import InsufficientCreditsError, InvalidRequestError, SchemaValidationError
from seedream.pool import close_shared_clients, shared_http_client
from tests.seedream.conftest import API_KEY, json_of, model_body, queue_row
from tests.seedream.contract import LEGACY_SCHEMA

REF = "https://hub.oxen.ai/api/repos/me/refs/file/main/a.png"


def test_queue_submit_sends_shaped_body_with_queue_fields_and_bearer_key(make_client, fake_oxen):
    fake_oxen.on(
        "POST /api/ai/queue",
        {
            "generations": [
                {"generation_id": "g1", "status": "queued"},
                {"generation_id": "g2", "status": "queued"},
            ]
        },
    )
    client = make_client()

    queued = client.queue_submit(
        {"prompt": "a fox", "input_image": REF, "input_images": [REF], "output_format": "jpeg"},
        num_generations=2,
        target_namespace="team",
        target_repo="gallery",
        target_directory="out",
    )

    assert [q.generation_id for q in queued] == ["g1", "g2"]
    (request,) = fake_oxen.calls("POST /api/ai/queue")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["user-agent"].startswith("seedream-gallery/")
    assert json_of(request) == {
        "model": "bytedance-seedream-4-5",
        "prompt": "a fox",
        "input_image": [REF],
        "num_generations": 2,
        "target_namespace": "team",
        "target_repo": "gallery",
        "target_directory": "out",
    }


def test_queue_submit_shapes_for_a_legacy_schema(make_client, fake_oxen):
    fake_oxen.on(
        "GET /api/ai/models/bytedance-seedream-4-5",
        model_body(LEGACY_SCHEMA, field_name="json_request_schema"),
    )
    fake_oxen.on(
        "POST /api/ai/queue", {"generations": [{"generation_id": "g1", "status": "queued"}]}
    )

    make_client().queue_submit({"prompt": "p", "input_image": [REF], "output_format": "jpeg"})

    body = json_of(fake_oxen.calls("POST /api/ai/queue")[0])
    assert body["input_image"] == REF
    assert body["input_images"] == [REF]
    assert body["output_format"] == "jpeg"


def test_invalid_request_is_rejected_before_anything_is_posted(make_client, fake_oxen):
    with pytest.raises(SchemaValidationError) as caught:
        make_client().queue_submit({"prompt": "", "size": "8K"}, num_generations=5)

    assert {p.field for p in caught.value.problems} == {"prompt", "size", "num_generations"}
    assert fake_oxen.calls("POST /api/ai/queue") == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"generations": []}, InvalidRequestError),
        ({"generations": [], "error": {"detail": "unsupported_media_type"}}, InvalidRequestError),
        (
            {"generations": [], "error": {"message": "Insufficient credits"}},
            InsufficientCreditsError,
        ),
    ],
)
def test_a_200_without_generations_or_with_an_error_key_is_a_failure(
    make_client, fake_oxen, body, error
):
    fake_oxen.on("POST /api/ai/queue", body)

    with pytest.raises(error) as caught:
        make_client().queue_submit({"prompt": "p"})

    assert caught.value.retryable is False


def test_queue_get_parses_the_row_with_timestamps_and_echoed_params(make_client, fake_oxen):
    fake_oxen.on(
        "GET /api/ai/queue/gen-1",
        queue_row(
            status="succeeded",
            result_url="https://hub.oxen.ai/x.jpeg",
            started_at=1775091432,
            completed_at=1775091460,
            input_image=[REF],
        ),
    )

    row = make_client().queue_get("gen-1")

    assert row.status == "succeeded"
    assert row.is_terminal
    assert row.result_url == "https://hub.oxen.ai/x.jpeg"
    assert row.enqueued_at == datetime.fromtimestamp(1775091431, tz=UTC)
    assert row.completed_at == datetime.fromtimestamp(1775091460, tz=UTC)
    assert row.params == {"size": "2K", "input_image": [REF]}


def test_generation_ids_cannot_add_path_segments(make_client, fake_oxen):
    fake_oxen.on("GET /api/ai/queue/..%2Fmodels", queue_row())
    with pytest.raises(Exception):  # noqa: B017 - whatever the fake answers, the path is what matters
        make_client().queue_get("../models", retries=0)

    assert fake_oxen.requests[-1].url.raw_path == b"/api/ai/queue/..%2Fmodels"


def test_queue_list_passes_filters_and_parses_count(make_client, fake_oxen):
    fake_oxen.on("GET /api/ai/queue", {"count": 1, "generations": [queue_row(status="processing")]})

    listed = make_client().queue_list(
        namespace="team",
        model="bytedance-seedream-4-5",
        status="processing",
        media_type="image",
        repo="gallery",
        folder="out",
    )

    assert listed.count == 1
    assert listed.generations[0].status == "processing"
    params = dict(fake_oxen.calls("GET /api/ai/queue")[0].url.params)
    assert params == {
        "namespace": "team",
        "model": "bytedance-seedream-4-5",
        "status": "processing",
        "media_type": "image",
        "repo": "gallery",
        "folder": "out",
    }


def test_queue_list_rejects_an_unknown_status_filter(make_client):
    with pytest.raises(ValueError, match="expired"):
        make_client().queue_list(status="expired")


def test_queue_cancel(make_client, fake_oxen):
    fake_oxen.on("DELETE /api/ai/queue/gen-1", {"status": "success", "generation_id": "gen-1"})

    result = make_client().queue_cancel("gen-1")

    assert (result.generation_id, result.status) == ("gen-1", "success")


@pytest.mark.parametrize(
    ("cost", "expected"), [("0.04", Decimal("0.04")), (None, None), ("1.10", Decimal("1.10"))]
)
def test_generation_cost_is_a_decimal_or_none(make_client, fake_oxen, cost, expected):
    fake_oxen.on(
        "GET /api/ai/generations/gen-1",
        {
            "status": "success",
            "status_message": "resource_found",
            "generation": {
                **queue_row(status="succeeded"),
                "cost": cost,
                "user_id": "u1",
                "username": "me",
                "user_image": None,
            },
        },
    )

    detail = make_client().generation_get("gen-1")

    assert detail.cost == expected
    assert detail.username == "me"
    assert "user_image" not in detail.params


def test_sync_edit_returns_images_by_url_or_b64(make_client, fake_oxen):
    fake_oxen.on(
        "POST /api/ai/images/edit",
        {
            "model": "bytedance-seedream-4-5",
            "created": 1775090400,
            "images": [{"url": "https://hub.oxen.ai/i.png"}, {"b64_json": "aGk="}],
        },
    )

    result = make_client().images_edit({"prompt": "p", "input_image": [REF], "size": "4K"})

    assert [i.url for i in result.images] == ["https://hub.oxen.ai/i.png", None]
    assert result.images[1].b64_json == "aGk="
    assert result.created == datetime.fromtimestamp(1775090400, tz=UTC)
    request = fake_oxen.calls("POST /api/ai/images/edit")[0]
    assert json_of(request)["input_image"] == [REF]
    assert request.extensions["timeout"]["read"] == 180.0  # sync calls block while the model runs


def test_sync_generate_route(make_client, fake_oxen):
    fake_oxen.on(
        "POST /api/ai/images/generate",
        {"model": "m", "created": 1, "images": [{"url": "https://hub.oxen.ai/i.png"}]},
    )

    assert (
        make_client().images_generate({"prompt": "p"}).images[0].url == "https://hub.oxen.ai/i.png"
    )


def test_model_get_reads_pricing_and_falls_back_to_json_request_schema(make_client, fake_oxen):
    fake_oxen.on(
        "GET /api/ai/models/bytedance-seedream-4-5",
        model_body(LEGACY_SCHEMA, field_name="json_request_schema"),
    )

    model = make_client().model_get()
    schema = make_client().request_schema()

    assert model.display_name == "Seedream 4.5"
    assert model.pricing.cost_per_image == Decimal("0.04")
    assert model.request_schema == LEGACY_SCHEMA
    assert schema.reference_layout == "legacy"


def test_request_schema_is_cached_for_the_ttl(make_client, fake_oxen):
    client = make_client(schema_ttl=300.0, base_url="https://cache-test.oxen.example")

    client.request_schema()
    client.request_schema()

    assert len(fake_oxen.calls("GET /api/ai/models/bytedance-seedream-4-5")) == 1
    client.request_schema(refresh=True)
    assert len(fake_oxen.calls("GET /api/ai/models/bytedance-seedream-4-5")) == 2


def test_repo_create_treats_409_as_already_there(make_client, fake_oxen):
    fake_oxen.on(
        "POST /api/repos",
        {"status": "success", "status_message": "resource_created", "repository": {}},
        httpx.Response(
            409,
            json={
                "error": {"type": "conflict", "title": "Repository already exists"},
                "status": "error",
            },
        ),
    )
    client = make_client()

    assert client.repo_create("me", "refs", description="refs") is True
    assert client.repo_create("me", "refs") is False
    body = json_of(fake_oxen.calls("POST /api/repos")[0])
    assert body == {
        "namespace": "me",
        "name": "refs",
        "description": "refs",
        "is_public": True,
        "user": {"name": "Seedream Gallery", "email": "gallery@localhost"},
    }


def test_file_upload_sends_multipart_and_returns_branch_and_pinned_urls(make_client, fake_oxen):
    fake_oxen.on(
        "PUT /api/repos/me/refs/file/main/refs/2026/ref 1.png",
        {
            "status": "success",
            "commit": {"id": "c0ffee", "message": "Add ref", "timestamp": "2026-01-08T21:28:00Z"},
        },
    )

    result = make_client().file_upload(
        "me",
        "refs",
        "refs/2026/ref 1.png",
        b"\x89PNG...",
        message="Add ref",
        content_type="image/png",
    )

    assert result.url == "https://hub.oxen.ai/api/repos/me/refs/file/main/refs/2026/ref%201.png"
    assert (
        result.pinned_url
        == "https://hub.oxen.ai/api/repos/me/refs/file/c0ffee/refs/2026/ref%201.png"
    )
    assert result.commit is not None and result.commit.id == "c0ffee"
    request = fake_oxen.requests[-1]
    assert request.headers["content-type"].startswith("multipart/form-data")
    body = request.content
    assert b'name="file"; filename="ref 1.png"' in body
    assert b'name="message"\r\n\r\nAdd ref' in body
    assert b'name="email"' in body and b'name="name"' in body


@pytest.mark.parametrize(
    ("namespace", "repo", "path"),
    [
        ("me/x", "refs", "a.png"),
        ("me", "..", "a.png"),
        ("me", "refs", "../a.png"),
        ("me", "refs", ""),
    ],
)
def test_repository_names_and_paths_are_checked(make_client, namespace, repo, path):
    with pytest.raises(ValueError, match="invalid"):
        make_client().file_url(namespace, repo, path)


def test_shared_http_client_is_pooled_per_config_and_recreated_after_fork(monkeypatch):
    import seedream.pool as pool

    config = ClientConfig(api_key=Secret("k"), base_url="https://pool-test.example")
    try:
        first = shared_http_client(config)
        assert shared_http_client(config) is first
        assert shared_http_client(config.replace(max_connections=3)) is not first
        assert "authorization" not in first.headers  # the key is added per Oxen request only
        monkeypatch.setattr(pool, "_pid", -1)  # as if this process were a fork child
        assert shared_http_client(config) is not first
    finally:
        close_shared_clients()


# Other tests leave daemon threads behind; the child only builds a client and exits at once.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_fork_child_gets_its_own_client():
    import os

    config = ClientConfig(api_key=Secret("k"), base_url="https://fork-test.example")
    parent = shared_http_client(config)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report whether it got a fresh client, then exit at once
        fresh = shared_http_client(config) is not parent
        os.write(write_end, b"1" if fresh else b"0")
        os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 1)
    os.waitpid(pid, 0)
    os.close(read_end)
    close_shared_clients()
    assert answer == b"1"
