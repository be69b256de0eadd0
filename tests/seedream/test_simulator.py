"""The local Oxen simulator, exercised over real loopback HTTP with plain httpx."""

from __future__ import annotations

import base64
import io
import json
import queue
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from PIL import Image

from seedream.simulator import Simulator, SimulatorConfig
from tests.seedream.contract import CURRENT_SCHEMA

MODEL = "bytedance-seedream-4-5"
FAST: dict[str, Any] = {
    "queue_latency": 0.02,
    "processing_latency": 0.05,
    "sync_latency": 0.01,
}
# One TLS context for every client: httpx builds a new one per client otherwise (~30 ms each).
TLS = ssl.create_default_context()
NOT_FOUND = {
    "error": {
        "type": "resource_not_found",
        "title": "The requested resource could not be found",
    },
    "status": "error",
    "status_message": "resource_not_found",
}


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Simulator]]:
    started: list[Simulator] = []

    def make(**overrides: Any) -> Simulator:
        simulator = Simulator(SimulatorConfig(**{**FAST, **overrides})).start()
        started.append(simulator)
        return simulator

    yield make
    for simulator in started:
        simulator.stop()


@pytest.fixture
def sim(make_sim: Callable[..., Simulator]) -> Simulator:
    return make_sim()


def client_for(simulator: Simulator, *, key: str | None = None, **kwargs: Any) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key or simulator.api_key}"}
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("verify", False)  # plain HTTP on loopback; a TLS context costs ~30 ms
    return httpx.Client(base_url=simulator.base_url, headers=headers, **kwargs)


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with client_for(sim) as http:
        yield http


def enqueue(http: httpx.Client, **body: Any) -> list[str]:
    response = http.post("/api/ai/queue", json={"model": MODEL, "prompt": "a red fox", **body})
    assert response.status_code == 200, response.text
    return [g["generation_id"] for g in response.json()["generations"]]


def plain_get(url: str, **kwargs: Any) -> httpx.Response:
    """An anonymous GET."""
    return httpx.get(url, verify=TLS, **kwargs)


def png_bytes(colour: str = "blue", size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        image.load()
        return image.size


def uuid_version(value: str) -> int | None:
    return uuid.UUID(value).version


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EventReader:
    """Reads the raw lines of ``GET /api/events`` on a background thread."""

    END = "<end>"

    def __init__(self, simulator: Simulator, key: str | None = None) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.status: int | None = None
        self.headers: httpx.Headers | None = None
        self.error: Exception | None = None
        self._ready = threading.Event()
        self._url = simulator.url("/api/events")
        self._key = key or simulator.api_key
        threading.Thread(target=self._run, daemon=True).start()
        assert self._ready.wait(5), "event stream did not open"

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self._key}"}
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(5.0, read=30.0), verify=TLS) as http,
                http.stream("GET", self._url, headers=headers) as response,
            ):
                self.status, self.headers = response.status_code, response.headers
                self._ready.set()
                for line in response.iter_lines():
                    self.lines.put(line)
        except httpx.HTTPError as exc:
            self.error = exc
        finally:
            self._ready.set()
            self.lines.put(self.END)

    def read_until(self, predicate: Callable[[str], bool], timeout: float = 5.0) -> list[str]:
        """Every line up to and including the first one matching ``predicate``."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching line; got {seen!r}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            seen.append(line)
            if predicate(line):
                return seen

    def quiet_for(self, seconds: float) -> list[str]:
        """Lines that arrive within ``seconds``."""
        deadline = time.monotonic() + seconds
        seen = []
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                seen.append(self.lines.get(timeout=remaining))
            except queue.Empty:
                break
        return seen

    def next_event(self, name: str, timeout: float = 5.0) -> dict[str, Any]:
        """The data of the next ``event: name`` frame."""
        self.read_until(lambda line: line == f"event: {name}", timeout)
        data_line = self.read_until(lambda line: line.startswith("data: "), timeout)[-1]
        return dict(json.loads(data_line.removeprefix("data: ")))


# --- auth and envelopes ----------------------------------------------------------------------


def test_missing_or_wrong_key_gets_the_unauthenticated_envelope(sim: Simulator) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "sim-key"}):
        response = plain_get(sim.url("/api/ai/queue"), headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error"
        assert body["status_message"] == "unauthenticated"
        assert body["error"]["type"] == "unauthenticated"
        assert body["error"]["title"]
    assert sim.generations_created == 0


def test_unknown_generation_ids_answer_the_exact_404_envelope(client: httpx.Client) -> None:
    missing = "7cf9b23a-1234-5678-9abc-def012345678"
    for response in (
        client.get(f"/api/ai/queue/{missing}"),
        client.delete(f"/api/ai/queue/{missing}"),
        client.get(f"/api/ai/generations/{missing}"),
    ):
        assert response.status_code == 404
        assert response.json() == NOT_FOUND


# --- models and schema eras -------------------------------------------------------------------


def test_model_is_public_and_carries_the_current_schema(sim: Simulator) -> None:
    response = plain_get(sim.url(f"/api/ai/models/{MODEL}"))
    assert response.status_code == 200
    model = response.json()
    assert model["id"] == MODEL
    assert model["object"] == "model"
    assert model["pricing"]["cost_per_image"] == 0.04
    assert model["request_schema"] == CURRENT_SCHEMA
    assert "json_request_schema" not in model
    listing = plain_get(sim.url("/api/ai/models")).json()
    assert listing["object"] == "list"
    assert MODEL in [m["id"] for m in listing["data"]]
    bad_key = plain_get(sim.url("/api/ai/models"), headers={"Authorization": "Bearer nope"})
    assert bad_key.status_code == 401


def test_legacy_schema_era_and_field_names_are_switchable(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_schema_era("legacy")
    sim.set_schema_field("json_request_schema")
    model = client.get(f"/api/ai/models/{MODEL}").json()
    assert "request_schema" not in model
    properties = model["json_request_schema"]["properties"]
    assert properties["input_image"]["type"] == "string"
    assert properties["input_image"]["format"] == "uri"
    assert properties["input_images"]["maxItems"] == 14
    assert properties["output_format"]["enum"] == ["jpeg"]
    assert set(properties) == {
        "prompt",
        "input_image",
        "input_images",
        "size",
        "output_format",
        "watermark",
    }
    # The same switch over HTTP, for out-of-process use.
    switched = client.post("/_sim/schema", json={"era": "current", "field": "both"})
    assert switched.status_code == 200
    model = client.get(f"/api/ai/models/{MODEL}").json()
    assert model["request_schema"] == model["json_request_schema"] == CURRENT_SCHEMA


def test_unknown_model_is_404_with_the_message_envelope(client: httpx.Client) -> None:
    expected = {"error": {"message": "Model not found: nope"}}
    assert client.get("/api/ai/models/nope").json() == expected
    for path in ("/api/ai/models/nope", "/api/ai/queue", "/api/ai/images/edit"):
        response = (
            client.get(path)
            if path.startswith("/api/ai/models")
            else client.post(path, json={"model": "nope", "prompt": "x"})
        )
        assert response.status_code == 404
        assert response.json() == expected


# --- queue lifecycle ---------------------------------------------------------------------------


def test_queue_lifecycle_with_timestamps_echoed_params_and_active_list(
    make_sim: Callable[..., Simulator],
) -> None:
    sim = make_sim(queue_latency=0.3, processing_latency=0.3)
    with client_for(sim) as http:
        refs = [data_uri(png_bytes())]
        created = http.post(
            "/api/ai/queue",
            json={
                "model": MODEL,
                "prompt": "Put @Image1 on a beach",
                "input_image": refs,
                "size": "2K",
                "watermark": False,
                "target_repo": "gallery",
                "target_directory": "outputs/today",
            },
        )
        assert created.status_code == 200
        [entry] = created.json()["generations"]
        assert entry["status"] == "queued"
        generation_id = entry["generation_id"]
        assert uuid_version(generation_id) == 4

        queued = http.get(f"/api/ai/queue/{generation_id}").json()
        assert queued["status"] == "queued"
        assert queued["started_at"] is None and queued["completed_at"] is None
        assert isinstance(queued["enqueued_at"], int)
        assert queued["model_name"] == MODEL and "model" not in queued
        assert queued["media_type"] == "image"
        assert queued["input_image"] == refs and queued["size"] == "2K"
        assert queued["watermark"] is False
        assert queued["target_namespace"] == "sim-user"
        assert queued["target_repo"] == "gallery"
        assert queued["target_directory"] == "outputs/today"
        assert queued["result_url"] is None and queued["error_message"] is None
        active = http.get("/api/ai/queue").json()
        assert active["count"] == 1
        assert active["generations"][0]["generation_id"] == generation_id

        sim.wait_for(generation_id, frozenset({"processing"}))
        processing = http.get(f"/api/ai/queue/{generation_id}").json()
        assert processing["status"] == "processing"
        assert isinstance(processing["started_at"], int)

        sim.wait_for(generation_id)
        done = http.get(f"/api/ai/queue/{generation_id}").json()
        assert done["status"] == "succeeded"
        assert done["enqueued_at"] <= done["started_at"] <= done["completed_at"]
        url = urllib.parse.urlsplit(done["result_url"])
        assert url.path == (
            f"/api/repos/sim-user/gallery/file/main/outputs/today/{generation_id}.jpeg"
        )
        assert {"exp", "sig"} <= set(urllib.parse.parse_qs(url.query))
        assert http.get("/api/ai/queue").json() == {"count": 0, "generations": []}
        finished = http.get("/api/ai/queue", params={"status": "succeeded"}).json()
        assert [g["generation_id"] for g in finished["generations"]] == [generation_id]
        assert (
            http.get("/api/ai/queue", params={"repo": "elsewhere", "status": "succeeded"}).json()[
                "count"
            ]
            == 0
        )


@pytest.mark.parametrize("bad", [0, 5, "2", True, 1.5, -1])
def test_num_generations_outside_1_to_4_is_rejected(client: httpx.Client, bad: object) -> None:
    response = client.post(
        "/api/ai/queue", json={"model": MODEL, "prompt": "x", "num_generations": bad}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["status_message"] == "invalid_params"
    assert body["error"]["detail"] == "num_generations must be an integer between 1 and 4"


def test_num_generations_makes_independent_generations(
    sim: Simulator, client: httpx.Client
) -> None:
    ids = enqueue(client, num_generations=4)
    assert len(set(ids)) == 4
    assert sim.generations_created == 4
    assert [g["generation_id"] for g in sim.generations()] == ids


def test_cancel_sets_cancelled_and_is_a_no_op_when_terminal(
    make_sim: Callable[..., Simulator],
) -> None:
    sim = make_sim(queue_latency=0.2)
    reader = EventReader(sim)
    with client_for(sim) as http:
        [to_cancel, to_finish] = enqueue(http, num_generations=2)
        cancelled = http.delete(f"/api/ai/queue/{to_cancel}")
        assert cancelled.status_code == 200
        assert cancelled.json() == {"status": "success", "generation_id": to_cancel}
        sim.wait_for(to_finish)
        time.sleep(0.3)  # past the cancelled one's start time: it must not move on
        view = http.get(f"/api/ai/queue/{to_cancel}").json()
        assert view["status"] == "cancelled"
        assert isinstance(view["completed_at"], int)
        assert http.delete(f"/api/ai/queue/{to_cancel}").status_code == 200
        assert http.delete(f"/api/ai/queue/{to_finish}").status_code == 200
        assert http.get(f"/api/ai/queue/{to_finish}").json()["status"] == "succeeded"
    event = reader.next_event("media_generation_completed")
    assert event["generation_id"] == to_finish  # no event was sent for the cancelled one
    assert "media_generation_completed" not in "".join(reader.quiet_for(0.2))


def test_bad_model_params_are_accepted_at_enqueue_and_fail_later(
    sim: Simulator, client: httpx.Client
) -> None:
    [bad_size] = enqueue(client, size="8K")
    [empty] = enqueue(client, prompt="  ")
    for generation_id in (bad_size, empty):
        view = sim.wait_for(generation_id)
        assert view["status"] == "failed"
        assert view["result_url"] is None
        assert view["error_message"].startswith("Getting model response error: 422 - ")
    assert "Prompt cannot be empty" in sim.wait_for(empty)["error_message"]


def test_text_only_model_is_refused_at_enqueue(client: httpx.Client) -> None:
    response = client.post("/api/ai/queue", json={"model": "simulator-chat-model", "prompt": "x"})
    assert response.status_code == 200
    assert response.json() == {"generations": [], "error": {"detail": "unsupported_media_type"}}


# --- history -----------------------------------------------------------------------------------


def test_generations_history_has_costs_users_and_pages(
    sim: Simulator, client: httpx.Client
) -> None:
    [succeeded] = enqueue(client)
    sim.script_outcomes("fail", error="Insufficient credits")
    [failed] = enqueue(client)
    sim.script_outcomes("never")
    [pending] = enqueue(client)
    sim.wait_for(succeeded)
    sim.wait_for(failed)

    shown = client.get(f"/api/ai/generations/{succeeded}").json()
    assert shown["status"] == "success"
    assert shown["status_message"] == "resource_found"
    row = shown["generation"]
    assert row["cost"] == "0.04"
    assert row["username"] == "sim-user"
    assert row["user_image"] is None
    assert uuid_version(row["user_id"]) is not None
    assert row["status"] == "succeeded" and row["result_url"]

    page = client.get("/api/ai/generations", params={"page_size": 2}).json()
    assert page["total_entries"] == 3
    assert page["total_pages"] == 2
    assert page["page_number"] == 1 and page["page_size"] == 2 and page["count"] == 2
    assert page["total_cost"] == "0.04"
    assert [g["generation_id"] for g in page["generations"]] == [pending, failed]
    costs = {g["generation_id"]: g["cost"] for g in page["generations"]}
    assert costs == {pending: None, failed: "0.00"}
    second = client.get("/api/ai/generations", params={"page_size": 2, "page": 2}).json()
    assert [g["generation_id"] for g in second["generations"]] == [succeeded]
    filtered = client.get("/api/ai/generations", params={"status": "failed"}).json()
    assert [g["generation_id"] for g in filtered["generations"]] == [failed]
    assert client.get("/api/ai/generations", params={"page_size": 0}).status_code == 400


# --- sync routes -------------------------------------------------------------------------------


def test_sync_edit_returns_a_signed_url_to_a_small_jpeg(
    sim: Simulator, client: httpx.Client
) -> None:
    for size, edge in (("2K", 256), ("4K", 512)):
        response = client.post(
            "/api/ai/images/edit", json={"model": MODEL, "prompt": "a lighthouse", "size": size}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["model"] == MODEL
        assert isinstance(body["created"], int)
        [image] = body["images"]
        assert set(image) == {"url"}
        download = plain_get(image["url"])
        assert download.status_code == 200
        assert download.headers["content-type"] == "image/jpeg"
        assert jpeg_size(download.content) == (edge, edge)
    # Sync calls are recorded as succeeded generations (they show up in the history too).
    assert [g["status"] for g in sim.generations()] == ["succeeded", "succeeded"]


def test_sync_generate_returns_b64_json(client: httpx.Client) -> None:
    response = client.post(
        "/api/ai/images/generate",
        json={"model": MODEL, "prompt": "a lighthouse", "response_format": "b64_json"},
    )
    assert response.status_code == 200
    [image] = response.json()["images"]
    assert set(image) == {"b64_json"}
    assert jpeg_size(base64.b64decode(image["b64_json"])) == (256, 256)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"prompt": ""}, "Prompt cannot be empty"),
        ({"prompt": "x", "size": "8K"}, "size must be one of: 2K, 4K"),
        ({"prompt": "x", "watermark": "yes"}, "watermark must be a boolean"),
        ({"prompt": "x", "output_format": "png"}, "output_format must be one of: jpeg"),
        (
            {"prompt": "x", "input_image": "data:image/png;base64,AA", "input_images": ["u"] * 14},
            "At most 14 reference images are allowed, got 15",
        ),
        ({"prompt": "x", "response_format": "png"}, "response_format must be one of"),
    ],
)
def test_sync_validation_answers_invalid_params(
    client: httpx.Client, body: dict[str, Any], detail: str
) -> None:
    response = client.post("/api/ai/images/edit", json={"model": MODEL, **body})
    assert response.status_code == 400
    envelope = response.json()
    assert envelope["status"] == "error"
    assert envelope["status_message"] == "invalid_params"
    assert envelope["error"]["type"] == "invalid_params"
    assert envelope["error"]["detail"].startswith(detail)


def test_legacy_shape_string_plus_array_references_is_accepted(client: httpx.Client) -> None:
    response = client.post(
        "/api/ai/images/edit",
        json={
            "model": MODEL,
            "prompt": "@Image1 meets @Image2",
            "input_image": data_uri(png_bytes("red")),
            "input_images": [data_uri(png_bytes("green"))],
            "output_format": "jpeg",
            "response_format": "b64_json",
        },
    )
    assert response.status_code == 200, response.text


def test_preset_2k_is_2048_square(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(image_size="preset")
    with client_for(sim) as http:
        body = {"model": MODEL, "prompt": "full size", "response_format": "b64_json"}
        image = http.post("/api/ai/images/edit", json=body).json()["images"][0]
    assert jpeg_size(base64.b64decode(image["b64_json"])) == (2048, 2048)


def test_preset_4k_is_4096_square(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(image_size="preset")
    with client_for(sim, timeout=30) as http:
        body = {"model": MODEL, "prompt": "big", "size": "4K", "response_format": "b64_json"}
        image = http.post("/api/ai/images/edit", json=body).json()["images"][0]
    assert jpeg_size(base64.b64decode(image["b64_json"])) == (4096, 4096)


# --- references and determinism ------------------------------------------------------------------


def sync_b64(http: httpx.Client, prompt: str, refs: list[str] | None = None) -> bytes:
    body: dict[str, Any] = {"model": MODEL, "prompt": prompt, "response_format": "b64_json"}
    if refs is not None:
        body["input_image"] = refs
    response = http.post("/api/ai/images/edit", json=body)
    assert response.status_code == 200, response.text
    return base64.b64decode(response.json()["images"][0]["b64_json"])


def test_each_generation_has_its_own_image_and_keeps_it(
    sim: Simulator, client: httpx.Client
) -> None:
    """Issue 10: the images of a batch and of a re-run differ, so batches and compare can be
    judged by eye; one generation always serves the same bytes."""
    ref = data_uri(png_bytes("red", (300, 200)))
    batch = enqueue(client, prompt="a quiet harbour", input_image=[ref], num_generations=4)
    rerun = enqueue(client, prompt="a quiet harbour", input_image=[ref])
    images = [plain_get(sim.wait_for(g)["result_url"]).content for g in [*batch, *rerun]]

    assert len(set(images)) == 5
    sim.state.renders.clear()  # re-rendering is deterministic: eviction is safe
    assert plain_get(sim.result_url(batch[0])).content == images[0]
    assert sync_b64(client, "a quiet harbour") != sync_b64(client, "a quiet harbour")


def test_results_show_the_references_whatever_the_variation() -> None:
    from seedream.simulator.images import ReferenceThumb, reference_thumb, render_result

    def thumb(colour: str) -> ReferenceThumb:
        return reference_thumb("Image1", Image.new("RGB", (300, 200), colour), colour)

    def render(refs: list[ReferenceThumb], variation: str = "gen-1") -> Image.Image:
        data = render_result("a quiet harbour", "2K", "small", False, refs, variation)
        return Image.open(io.BytesIO(data)).convert("RGB")

    plain, red, blue = render([]), render([thumb("red")]), render([thumb("blue")])
    assert render([thumb("red")]).tobytes() == red.tobytes()  # pure
    assert render([thumb("red")], "gen-2").tobytes() != red.tobytes()
    assert red.tobytes() != plain.tobytes()
    # Swapping the reference changes only the thumbnail strip at the bottom.
    changed = [
        y
        for y in range(red.height)
        if red.crop((0, y, red.width, y + 1)).tobytes()
        != blue.crop((0, y, blue.width, y + 1)).tobytes()
    ]
    assert changed and min(changed) > red.height // 2
    strip_pixel = red.getpixel((red.width // 32 + 12, max(changed) - 12))
    assert isinstance(strip_pixel, tuple) and strip_pixel[0] > 150 > strip_pixel[2]


def test_photo_results_are_real_sized_and_compress_like_photographs() -> None:
    """``image_size="photo"`` (the burst bench's results, issue 15): a 2K result is 2048 px
    with photo-like detail, several times the bytes of the flat drawing and the same bytes
    every time, so a bench decodes what a real result costs to decode."""
    from seedream.simulator.images import render_result

    photo = render_result("a quiet harbour", "2K", "photo", False, [], "gen-1")
    flat = render_result("a quiet harbour", "2K", "preset", False, [], "gen-1")
    assert Image.open(io.BytesIO(photo)).size == (2048, 2048)
    assert len(photo) > 400_000 and len(photo) > 3 * len(flat)
    assert render_result("a quiet harbour", "2K", "photo", False, [], "gen-1") == photo


def test_unreachable_reference_fails_the_generation(sim: Simulator, client: httpx.Client) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/ref.png"
    [generation_id] = enqueue(client, input_image=[data_uri(png_bytes()), dead])
    view = sim.wait_for(generation_id)
    assert view["status"] == "failed"
    assert view["error_message"].startswith("Failed to download input image")
    assert dead in view["error_message"]


def test_forbidden_host_reads_like_a_403(sim: Simulator, client: httpx.Client) -> None:
    url = "https://forbidden.test/private/ref.png"
    [generation_id] = enqueue(client, input_image=[url])
    message = sim.wait_for(generation_id)["error_message"]
    assert message.endswith(f"403 Client Error: Forbidden for url: {url}")
    sync = client.post(
        "/api/ai/images/edit", json={"model": MODEL, "prompt": "x", "input_image": [url]}
    )
    assert sync.status_code == 400
    assert "403 Client Error: Forbidden for url" in sync.json()["error"]["detail"]


def test_references_from_repos_and_other_loopback_servers(
    sim: Simulator, client: httpx.Client
) -> None:
    served = png_bytes("purple")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(served)))
            self.end_headers()
            self.wfile.write(served)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    app = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    try:
        app_url = f"http://127.0.0.1:{app.server_address[1]}/media/ref.png"
        public = sim.add_file("sim-user", "refs", "a.png", png_bytes("orange"))
        text = sim.add_file("sim-user", "refs", "notes.txt", b"not an image")
        private = sim.add_file("sim-user", "secret", "b.png", png_bytes(), public=False)
        [ok] = enqueue(client, input_image=[app_url, public])
        [not_image] = enqueue(client, input_image=[text])
        [hidden] = enqueue(client, input_image=[private])
        assert sim.wait_for(ok)["status"] == "succeeded"
        assert "is not a valid image" in sim.wait_for(not_image)["error_message"]
        assert "401 Client Error: Unauthorized for url" in sim.wait_for(hidden)["error_message"]
    finally:
        app.shutdown()
        app.server_close()
    # The simulator's own fetches of its repo files are not client requests.
    assert "GET /api/repos/{namespace}/{repo}/file/{branch}/{path}" not in sim.counters()


# --- signed result URLs ------------------------------------------------------------------------


def test_signed_result_urls_expire_and_are_minted_fresh(
    make_sim: Callable[..., Simulator],
) -> None:
    sim = make_sim(result_url_ttl=1.0)
    with client_for(sim) as http:
        [generation_id] = enqueue(http)
        url = sim.wait_for(generation_id)["result_url"]
        assert plain_get(url).status_code == 200
        tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
        denied = plain_get(tampered)
        assert denied.status_code == 403
        assert denied.json()["error"]["detail"] == "The URL signature is invalid"
        unsigned = url.split("?")[0]
        assert plain_get(unsigned).status_code == 401
        assert http.get(unsigned).status_code == 200  # the owner's key works without a signature
        expires = int(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["exp"][0])
        time.sleep(max(0.0, expires - time.time()) + 0.05)
        expired = plain_get(url)
        assert expired.status_code == 403
        assert expired.json()["error"]["detail"] == "The signed URL has expired"
        fresh = http.get(f"/api/ai/queue/{generation_id}").json()["result_url"]
        assert fresh != url
        assert plain_get(fresh).status_code == 200
        history = http.get(f"/api/ai/generations/{generation_id}").json()["generation"]
        assert plain_get(history["result_url"]).status_code == 200


# --- SSE ---------------------------------------------------------------------------------------


def test_sse_sends_keepalives_on_an_event_stream(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(keepalive_interval=0.1)
    reader = EventReader(sim)
    assert reader.status == 200
    assert reader.headers is not None
    assert reader.headers["content-type"].startswith("text/event-stream")
    lines = reader.read_until(lambda line: line == ": keep-alive")
    lines += reader.read_until(lambda line: line == ": keep-alive")
    assert set(lines) <= {": keep-alive", ""}


def test_sse_requires_a_key(sim: Simulator) -> None:
    assert plain_get(sim.url("/api/events")).status_code == 401


def test_sse_completion_events_for_success_and_failure(
    sim: Simulator, client: httpx.Client
) -> None:
    reader = EventReader(sim)
    [ok] = enqueue(client)
    succeeded = reader.next_event("media_generation_completed")
    assert set(succeeded) == {"generation_id", "status", "media_type", "model", "url"}
    assert succeeded["generation_id"] == ok
    assert succeeded["status"] == "succeeded"
    assert succeeded["media_type"] == "image"
    assert succeeded["model"] == MODEL
    assert plain_get(succeeded["url"]).status_code == 200

    sim.script_outcomes("fail", error="The request was rejected by the content safety policy")
    [bad] = enqueue(client)
    lines = reader.read_until(lambda line: line.startswith("data: "))
    assert lines[-2:] == ["event: media_generation_completed", lines[-1]]
    assert not any(line.startswith(("id:", "retry:")) for line in lines)
    payload = lines[-1].removeprefix("data: ")
    assert f'"generation_id":"{bad}"' in payload  # compact JSON, as the docs' awk expects
    assert json.loads(payload) == {
        "generation_id": bad,
        "status": "failed",
        "media_type": "image",
        "error": "The request was rejected by the content safety policy",
    }


def test_sse_does_not_replay_past_events(sim: Simulator, client: httpx.Client) -> None:
    [before] = enqueue(client)
    sim.wait_for(before)
    reader = EventReader(sim)
    assert reader.quiet_for(0.3) == []
    [after] = enqueue(client)
    assert reader.next_event("media_generation_completed")["generation_id"] == after


def test_sse_is_user_scoped(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(extra_users={"other-key": "someone-else"})
    mine, theirs = EventReader(sim), EventReader(sim, key="other-key")
    with client_for(sim) as http:
        [generation_id] = enqueue(http)
    assert mine.next_event("media_generation_completed")["generation_id"] == generation_id
    assert theirs.quiet_for(0.3) == []
    with client_for(sim, key="other-key") as other:
        assert other.get(f"/api/ai/queue/{generation_id}").status_code == 404


def test_sse_drop_cuts_every_open_stream(sim: Simulator) -> None:
    readers = [EventReader(sim), EventReader(sim)]
    assert sim.sse_connections() == 2
    assert sim.sse("drop") == 2
    for reader in readers:
        reader.read_until(lambda line: line == EventReader.END, timeout=2)
        assert isinstance(reader.error, httpx.RemoteProtocolError)  # broken, not ended cleanly
    assert sim.sse_connections() == 0


def test_sse_silence_sends_nothing_until_resumed(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(keepalive_interval=0.1)
    reader = EventReader(sim)
    reader.read_until(lambda line: line == ": keep-alive")
    sim.sse("silence")
    reader.quiet_for(0.15)  # drain what was already on the wire
    with client_for(sim) as http:
        [lost] = enqueue(http)
        sim.wait_for(lost)
    assert reader.quiet_for(0.4) == []
    assert sim.sse_connections() == 1  # still connected
    sim.sse("resume")
    reader.read_until(lambda line: line == ": keep-alive", timeout=2)


def test_sse_unrelated_events_are_mixed_in(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(unrelated_events=True)
    reader = EventReader(sim)
    first = reader.next_event("deployment_updated")
    assert first["status"] == "live"
    with client_for(sim) as http:
        [generation_id] = enqueue(http)
    lines = reader.read_until(lambda line: line == "event: media_generation_completed")
    assert "event: deployment_updated" in lines
    data = reader.read_until(lambda line: line.startswith("data: "))[-1]
    assert json.loads(data.removeprefix("data: "))["generation_id"] == generation_id
    sim.set_unrelated_events(False)
    assert sim.sse("emit", event="custom_event", data={"x": 1}) == 1
    assert reader.next_event("custom_event") == {"x": 1}


def test_stop_ends_open_streams_promptly(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim()
    reader = EventReader(sim)
    started = time.monotonic()
    sim.stop()
    reader.read_until(lambda line: line == EventReader.END, timeout=2)
    assert time.monotonic() - started < 2


# --- injected HTTP faults ----------------------------------------------------------------------


def test_rate_limit_fault_answers_429_with_retry_after(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.inject("POST /api/ai/queue", status=429, retry_after=2, times=1)
    limited = client.post("/api/ai/queue", json={"model": MODEL, "prompt": "x"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.json() == {"error": {"message": "Rate limit exceeded"}}
    assert sim.generations_created == 0  # nothing was enqueued
    assert len(enqueue(client)) == 1


def test_server_error_faults_apply_in_order_then_clear(
    sim: Simulator, client: httpx.Client
) -> None:
    [generation_id] = enqueue(client)
    path = f"/api/ai/queue/{generation_id}"
    sim.inject("GET /api/ai/queue/{id}", status=503, times=2)
    sim.inject("GET /api/ai/queue/{id}", status=502, html=True, times=1)
    for _ in range(2):
        failed = client.get(path)
        assert failed.status_code == 503
        assert failed.json()["status_message"] == "unknown_error"
        assert failed.json()["error"]["type"] == "unknown_error"
    html = client.get(path)
    assert html.status_code == 502
    assert html.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in html.text
    assert client.get(path).status_code == 200
    sim.inject("*", status=500, times=None)
    assert client.get(path).status_code == 500
    assert client.get("/api/ai/queue").status_code == 500
    sim.clear_faults()
    assert client.get(path).status_code == 200


def test_slow_response_fault_delays_the_answer(sim: Simulator, client: httpx.Client) -> None:
    [generation_id] = enqueue(client)
    sim.inject("GET /api/ai/queue/{id}", delay=0.6, times=1)
    with pytest.raises(httpx.ReadTimeout):
        client.get(f"/api/ai/queue/{generation_id}", timeout=0.2)
    started = time.monotonic()
    assert client.get(f"/api/ai/queue/{generation_id}").status_code == 200
    assert time.monotonic() - started < 0.5


def test_malformed_fault_breaks_the_json_body(sim: Simulator, client: httpx.Client) -> None:
    [generation_id] = enqueue(client)
    path = f"/api/ai/queue/{generation_id}"
    good = client.get(path).text
    sim.inject("GET /api/ai/queue/{id}", malformed=True, times=1)
    sim.inject("GET /api/ai/queue/{id}", malformed="truncated", times=1)
    for _ in range(2):
        broken = client.get(path)
        assert broken.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            broken.json()
    assert len(broken.text) < len(good)


def test_drop_fault_on_enqueue_creates_the_generation_without_answering(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.inject("POST /api/ai/queue", drop=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/api/ai/queue", json={"model": MODEL, "prompt": "ambiguous"})
    assert sim.generations_created == 1
    [generation] = sim.generations()
    assert generation["prompt"] == "ambiguous"
    # The client can find it afterwards, as a reconciler would.
    listed = client.get("/api/ai/queue").json()["generations"]
    assert [g["generation_id"] for g in listed] == [generation["generation_id"]]
    assert sim.wait_for(generation["generation_id"])["status"] == "succeeded"


def test_faults_on_the_event_stream_and_bodies_are_still_recorded(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.inject("GET /api/events", drop=True, times=1)
    sim.inject("GET /api/events", status=503, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/api/events")
    assert client.get("/api/events").status_code == 503
    assert sim.sse_connections() == 0
    assert sim.counters()["GET /api/events"] == 2
    sim.inject("POST /api/ai/queue", status=500, times=1)
    client.post("/api/ai/queue", json={"model": MODEL, "prompt": "refused"})
    client.post("/api/ai/queue", content=b"{not json")
    assert sim.received("POST /api/ai/queue") == [
        {"model": MODEL, "prompt": "refused"},
        {"_invalid_json": "{not json"},
    ]


def test_inject_rejects_unknown_routes(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="unknown route"):
        sim.inject("POST /api/ai/queue/{id}", status=500)


# --- scripted outcomes -------------------------------------------------------------------------


def test_scripted_failure_and_never(sim: Simulator, client: httpx.Client) -> None:
    sim.script_outcomes("fail", error="Insufficient credits", times=1)
    sim.script_outcomes("never", times=1)
    [failed, stuck, normal] = enqueue(client, num_generations=3)
    assert sim.wait_for(failed)["error_message"] == "Insufficient credits"
    assert sim.wait_for(normal)["status"] == "succeeded"
    time.sleep(0.2)
    assert client.get(f"/api/ai/queue/{stuck}").json()["status"] == "processing"
    finished = sim.finish(stuck)
    assert finished["status"] == "succeeded"
    assert plain_get(finished["result_url"]).status_code == 200


def download(sim: Simulator, generation_id: str) -> httpx.Response:
    return plain_get(sim.wait_for(generation_id)["result_url"])


def test_truncated_and_wrong_format_results(sim: Simulator, client: httpx.Client) -> None:
    sim.script_outcomes("truncated")
    sim.script_outcomes("wrong_format")
    [truncated, wrong, fine] = enqueue(client, num_generations=3)
    assert jpeg_size(download(sim, fine).content)
    cut = download(sim, truncated)
    generation = sim.state.get(truncated)
    assert generation is not None
    whole = sim.state.render(generation)  # each generation has its own image
    assert cut.headers["content-type"] == "image/jpeg"
    assert cut.content == whole[: len(whole) // 2]
    with pytest.raises(OSError), Image.open(io.BytesIO(cut.content)) as image:
        image.load()
    html = download(sim, wrong)
    assert html.headers["content-type"].startswith("text/html")
    with pytest.raises(OSError):
        Image.open(io.BytesIO(html.content))


def test_bomb_result_declares_huge_dimensions_in_a_small_file(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.script_outcomes("bomb")
    [generation_id] = enqueue(client)
    response = download(sim, generation_id)
    assert response.content.startswith(b"\x89PNG")
    assert len(response.content) < 200_000
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(response.content))


def test_oversized_result_is_streamed_without_a_length(
    make_sim: Callable[..., Simulator],
) -> None:
    sim = make_sim(oversized_bytes=3_000_000)
    sim.script_outcomes("oversized")
    with client_for(sim) as http:
        [generation_id] = enqueue(http)
        url = sim.wait_for(generation_id)["result_url"]
        with httpx.stream("GET", url, verify=TLS) as response:
            assert "content-length" not in response.headers
            total = sum(len(chunk) for chunk in response.iter_bytes())
    assert total == 3_000_000


# --- bookkeeping -------------------------------------------------------------------------------


def test_counters_per_route_and_generation_and_received_bodies(
    sim: Simulator, client: httpx.Client
) -> None:
    [generation_id] = enqueue(client, size="4K")
    url = sim.wait_for(generation_id)["result_url"]
    for _ in range(3):
        client.get(f"/api/ai/queue/{generation_id}")
    client.get("/api/ai/queue")
    plain_get(url)
    client.get("/_sim/counters")  # control routes are not counted
    file_route = "GET /api/repos/{namespace}/{repo}/file/{branch}/{path}"
    assert sim.counters() == {
        "POST /api/ai/queue": 1,
        "GET /api/ai/queue/{id}": 3,
        "GET /api/ai/queue": 1,
        file_route: 1,
    }
    assert sim.generation_counters(generation_id) == {
        "POST /api/ai/queue": 1,
        "GET /api/ai/queue/{id}": 3,
        file_route: 1,
    }
    assert sim.received("POST /api/ai/queue") == [
        {"model": MODEL, "prompt": "a red fox", "size": "4K"}
    ]
    sim.reset()
    assert sim.counters() == {} and sim.generations() == [] and sim.generations_created == 0


# --- repositories ------------------------------------------------------------------------------


def test_repo_create_upload_and_download(sim: Simulator, client: httpx.Client) -> None:
    repo = {"namespace": "sim-user", "name": "refs", "is_public": True, "description": "refs"}
    created = client.post("/api/repos", json=repo)
    assert created.status_code == 200
    assert created.json()["status_message"] == "resource_created"
    assert created.json()["repository"]["is_public"] is True
    assert client.post("/api/repos", json=repo).status_code == 409

    data = png_bytes("teal")
    uploaded = client.put(
        "/api/repos/sim-user/refs/file/main/refs/one.png",
        files={"file": ("one.png", data, "image/png")},
        data={"message": "Add reference", "name": "Bot", "email": "bot@example.com"},
    )
    assert uploaded.status_code == 200
    body = uploaded.json()
    assert body["status"] == "success" and body["status_message"] == "resource_created"
    commit = body["commit"]
    assert commit["message"] == "Add reference"
    assert commit["author"] == "Bot" and commit["email"] == "bot@example.com"
    assert len(commit["parent_ids"]) == 1 and commit["id"] and commit["timestamp"].endswith("Z")

    anonymous = plain_get(sim.url("/api/repos/sim-user/refs/file/main/refs/one.png"))
    assert anonymous.status_code == 200 and anonymous.content == data
    assert anonymous.headers["content-type"] == "image/png"
    pinned = plain_get(sim.url(f"/api/repos/sim-user/refs/file/{commit['id']}/refs/one.png"))
    assert pinned.content == data

    many = client.put(
        "/api/repos/sim-user/refs/file/main/batch",
        files=[
            ("files[]", ("a.png", data, "image/png")),
            ("files[]", ("b.png", data, "image/png")),
        ],
    )
    assert many.json()["commit"]["message"] == "Auto-commit files to batch"
    assert plain_get(sim.url("/api/repos/sim-user/refs/file/main/batch/b.png")).content == data

    ambiguous = client.put(
        "/api/repos/sim-user/refs/file/main/x",
        files=[("file", ("a.png", data)), ("files[]", ("b.png", data))],
    )
    assert ambiguous.status_code == 400
    assert ambiguous.json()["error"]["detail"] == "Ambiguous multipart payload"
    assert ambiguous.json()["status_message"] == "bad_request"
    no_branch = client.put(
        "/api/repos/sim-user/refs/file/dev/a.png", files={"file": ("a.png", data)}
    )
    assert no_branch.status_code == 404
    assert no_branch.json()["status_message"] == "resource_not_found"
    assert sim.received("PUT /api/repos/{namespace}/{repo}/file/{branch}/{path}")[0]["files"] == [
        {"field": "file", "filename": "one.png", "content_type": "image/png", "size": len(data)}
    ]


def test_private_repo_files_need_the_key(sim: Simulator, client: httpx.Client) -> None:
    client.post("/api/repos", json={"namespace": "sim-user", "name": "private", "is_public": False})
    client.put("/api/repos/sim-user/private/file/main/a.png", files={"file": ("a.png", b"x")})
    url = "/api/repos/sim-user/private/file/main/a.png"
    assert plain_get(sim.url(url)).status_code == 401
    assert client.get(url).content == b"x"
    assert (
        client.put(url, files={"file": ("a.png", b"x")}, headers={"Authorization": ""}).status_code
        == 401
    )


# --- HTTP control routes -----------------------------------------------------------------------


def test_control_routes_drive_the_simulator_out_of_process(
    sim: Simulator, client: httpx.Client
) -> None:
    assert plain_get(sim.url("/_sim/counters")).status_code == 401
    fault = {"route": "POST /api/ai/queue", "status": 429, "retry_after": 3, "times": 1}
    assert client.post("/_sim/faults", json=fault).status_code == 200
    assert client.post("/api/ai/queue", json={"model": MODEL, "prompt": "x"}).status_code == 429
    assert client.post("/_sim/faults", json={"route": "nope", "status": 500}).status_code == 400
    client.post("/_sim/faults", json={"route": "GET /api/ai/queue", "status": 503, "times": None})
    assert client.get("/api/ai/queue").status_code == 503
    assert client.delete("/_sim/faults").status_code == 200
    assert client.get("/api/ai/queue").status_code == 200

    client.post("/_sim/outcomes", json={"outcome": "never", "times": 1})
    [generation_id] = enqueue(client)
    sim.wait_for(generation_id, frozenset({"processing"}))
    finished = client.post(
        f"/_sim/finish/{generation_id}", json={"outcome": "fail", "error": "boom"}
    )
    assert finished.json()["status"] == "failed" and finished.json()["error_message"] == "boom"

    reader = EventReader(sim)
    assert client.post("/_sim/sse", json={"action": "drop"}).json()["streams"] == 1
    reader.read_until(lambda line: line == EventReader.END, timeout=2)

    report = client.get("/_sim/counters").json()
    assert report["counters"]["POST /api/ai/queue"] == 2
    assert report["generation_counters"][generation_id] == {"POST /api/ai/queue": 1}
    assert [g["generation_id"] for g in report["generations"]] == [generation_id]
    assert report["generations_created"] == 1
    assert not any(key.startswith(("GET /_sim", "POST /_sim")) for key in report["counters"])

    assert client.post("/_sim/reset").status_code == 200
    assert client.get("/_sim/counters").json()["generations"] == []


# --- command line ------------------------------------------------------------------------------


def test_cli_serves_logs_without_the_key_and_stops_cleanly_on_sigterm() -> None:
    key = "cli-secret-key-123"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seedream.simulator",
            "--port",
            "0",
            "--api-key",
            key,
            "--queue-latency",
            "0.01",
            "--processing-latency",
            "0.01-0.02",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = process.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        banner = lines.get(timeout=10)
        assert "Oxen SIMULATOR listening on http://127.0.0.1:" in banner
        assert "nothing is sent to Oxen" in banner
        base_url = banner.split("listening on ")[1].split()[0]
        response = httpx.post(
            f"{base_url}/api/ai/queue",
            verify=TLS,
            json={"model": MODEL, "prompt": "cli"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert key not in stderr
    assert "POST /api/ai/queue -> 200" in stderr
