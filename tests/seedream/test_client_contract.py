"""Contract tests: the client against the local simulator over real sockets.

Every route, every error mapping, retries that honour Retry-After, the POST rules, the event
stream, schema shaping in both eras (checked on what the simulator received), download safety
(including a redirect to a second host that must not get the key), and the key in no error or
log line."""

from __future__ import annotations

import base64
import io
import logging
import pickle
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import time_machine
from PIL import Image

from seedream.client import OxenClient
from seedream.config import ClientConfig, EventStreamPolicy, RetryPolicy, Secret, Timeouts
from seedream.errors import (
    AmbiguousSubmitError,
    AuthenticationError,
    BadContentError,
    ConnectFailedError,
    DownloadTooLargeError,
    InsufficientCreditsError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    OxenError,
    RateLimitedError,
    ResultExpiredError,
    SchemaValidationError,
    TransientError,
    UnsafeURLError,
)
from seedream.events import Connected
from seedream.responses import CompletionEvent
from tests.seedream.conftest import SIM_KEY


def png(color: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 24), color).save(out, "PNG")
    return out.getvalue()


def references(sim, count: int) -> list[str]:
    return [
        sim.add_file("sim-user", "refs", f"ref{i}.png", png((i * 15 % 255, 80, 160)))
        for i in range(count)
    ]


def wait_done(client: OxenClient, generation_id: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        row = client.queue_get(generation_id)
        if row.is_terminal or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


# -- routes ----------------------------------------------------------------------------------


def test_queue_lifecycle_cost_and_result_download(sim, sim_client):
    queued = sim_client.queue_submit({"prompt": "a red fox", "size": "2K"}, num_generations=2)

    assert len(queued) == 2 and all(q.status == "queued" for q in queued)
    active = sim_client.queue_list()
    assert {g.generation_id for g in active.generations} <= {q.generation_id for q in queued}
    row = wait_done(sim_client, queued[0].generation_id)
    assert row.status == "succeeded"
    assert row.result_url and row.started_at and row.completed_at
    assert row.params.get("size") == "2K"
    detail = sim_client.generation_get(row.generation_id)
    assert detail.cost is None or isinstance(detail.cost, Decimal)
    result = sim_client.download_result(row.result_url)
    assert result.format == "JPEG" and result.size > 0
    assert sim.received("POST /api/ai/queue")[0]["num_generations"] == 2


def test_queue_list_filters_reach_the_simulator(sim, sim_client):
    (first,) = sim_client.queue_submit({"prompt": "p"})
    wait_done(sim_client, first.generation_id)

    done = sim_client.queue_list(
        status="succeeded", model="bytedance-seedream-4-5", media_type="image"
    )
    active = sim_client.queue_list()

    assert first.generation_id in {g.generation_id for g in done.generations}
    assert first.generation_id not in {g.generation_id for g in active.generations}
    assert done.count == len(done.generations)


def test_cancel_marks_the_generation_cancelled(make_sim, sim_client_factory):
    sim = make_sim(queue_latency=(5.0, 5.0))
    client = sim_client_factory(sim)
    (queued,) = client.queue_submit({"prompt": "p"})

    result = client.queue_cancel(queued.generation_id)

    assert result.generation_id == queued.generation_id
    assert client.queue_get(queued.generation_id).status == "cancelled"


def test_sync_edit_and_generate_return_urls_or_base64(sim, sim_client):
    refs = references(sim, 2)

    edited = sim_client.images_edit({"prompt": "@Image1 meets @Image2", "input_image": refs})
    generated = sim_client.images_generate({"prompt": "p", "response_format": "b64_json"})

    assert edited.images[0].url
    assert sim_client.download_result(edited.images[0].url).format == "JPEG"
    assert generated.images[0].b64_json
    assert base64.b64decode(generated.images[0].b64_json)[:3] == b"\xff\xd8\xff"
    assert sim.received("POST /api/ai/images/edit")[0]["input_image"] == refs


@pytest.mark.parametrize("field_name", ["request_schema", "json_request_schema", "both"])
def test_model_and_schema_are_read_from_either_field(sim, sim_client, field_name):
    sim.set_schema_field(field_name)

    model = sim_client.model_get()
    schema = sim_client.request_schema()

    assert model.id == "bytedance-seedream-4-5"
    assert isinstance(model.pricing.cost_per_image, Decimal)
    assert schema.reference_max_items == 14
    assert [f.name for f in schema.form_fields()][:1] == ["size"]


def test_repository_create_upload_and_public_url(sim, sim_client):
    assert sim_client.repo_create("sim-user", "references") is True
    assert sim_client.repo_create("sim-user", "references") is False

    uploaded = sim_client.file_upload(
        "sim-user",
        "references",
        "team/ref one.png",
        png(),
        message="Add ref",
        content_type="image/png",
    )

    assert (
        uploaded.url == f"{sim.base_url}/api/repos/sim-user/references/file/main/team/ref%20one.png"
    )
    assert uploaded.pinned_url and uploaded.commit
    for url in (uploaded.url, uploaded.pinned_url):
        downloaded = sim_client.download_result(url)
        assert downloaded.format == "PNG"
        assert downloaded.file.read() == png()
    (received,) = sim.received("PUT /api/repos/{namespace}/{repo}/file/{branch}/{path}")
    assert "file" in str(received)


def test_uploaded_reference_is_usable_in_a_generation(sim, sim_client):
    sim_client.repo_create("sim-user", "references")
    uploaded = sim_client.file_upload(
        "sim-user", "references", "r.png", png(), content_type="image/png"
    )

    (queued,) = sim_client.queue_submit(
        {"prompt": "@Image1 on a beach", "input_image": [uploaded.pinned_url]}
    )

    assert wait_done(sim_client, queued.generation_id).status == "succeeded"


# -- schema shaping in both eras ---------------------------------------------------------------


def test_current_era_receives_one_input_image_array_without_output_format(sim, sim_client):
    refs = references(sim, 2)

    sim_client.queue_submit(
        {
            "prompt": "p",
            "input_image": refs[0],
            "input_images": refs,
            "output_format": "jpeg",
            "seed": 4,
        }
    )

    (body,) = sim.received("POST /api/ai/queue")
    assert body["input_image"] == refs
    assert "input_images" not in body and "output_format" not in body and "seed" not in body


def test_legacy_era_receives_first_reference_as_string_and_all_in_input_images(sim, sim_client):
    sim.set_schema_era("legacy")
    sim.set_schema_field("json_request_schema")
    refs = references(sim, 3)

    (queued,) = sim_client.queue_submit(
        {"prompt": "p", "input_image": refs, "output_format": "jpeg", "size": "4K"}
    )

    (body,) = sim.received("POST /api/ai/queue")
    assert body["input_image"] == refs[0]
    assert body["input_images"] == refs
    assert body["output_format"] == "jpeg"
    assert wait_done(sim_client, queued.generation_id).status == "succeeded"


def test_data_uri_references_are_accepted(sim, sim_client):
    data_uri = "data:image/png;base64," + base64.b64encode(png()).decode()

    (queued,) = sim_client.queue_submit({"prompt": "p", "input_image": [data_uri]})

    assert sim.received("POST /api/ai/queue")[0]["input_image"] == [data_uri]
    assert wait_done(sim_client, queued.generation_id).status == "succeeded"


@pytest.mark.parametrize("era", ["current", "legacy"])
def test_invalid_requests_never_reach_the_simulator(sim, sim_client, era):
    sim.set_schema_era(era)
    too_many = [f"{sim.base_url}/r/{i}.png" for i in range(15)]

    with pytest.raises(SchemaValidationError) as caught:
        sim_client.queue_submit(
            {"prompt": "", "size": "8K", "input_image": too_many}, num_generations=9
        )

    rules = {(p.field, p.rule) for p in caught.value.problems}
    reference_field = "input_image" if era == "current" else "input_images"
    assert rules == {
        ("prompt", "required"),
        ("size", "enum"),
        (reference_field, "maxItems"),
        ("num_generations", "maximum"),
    }
    assert "POST /api/ai/queue" not in sim.counters()


# -- error mapping -------------------------------------------------------------------------------


def test_a_wrong_key_is_an_authentication_error(sim, sim_client_factory):
    client = sim_client_factory(sim, api_key=Secret("wrong-key"))

    with pytest.raises(AuthenticationError) as caught:
        client.queue_list()

    assert caught.value.status_code == 401


def test_unknown_ids_and_models_are_not_found(sim, sim_client):
    with pytest.raises(NotFoundError):
        sim_client.queue_get("00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFoundError):
        sim_client.queue_cancel("00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFoundError):
        sim_client.generation_get("00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFoundError) as caught:
        sim_client.model_get("no-such-model")
    assert "no-such-model" in (caught.value.detail or "")


def test_the_simulators_own_validation_errors_carry_its_detail(sim, sim_client):
    with pytest.raises(InvalidRequestError) as caught:
        sim_client.queue_submit({"prompt": "p"}, num_generations=7, validate=False)
    assert "num_generations must be an integer between 1 and 4" in (caught.value.detail or "")

    with pytest.raises(InvalidRequestError) as caught:
        sim_client.images_edit({"prompt": ""}, validate=False)
    assert "Prompt cannot be empty" in (caught.value.detail or "")


def test_insufficient_credits_is_detected_from_the_message(sim, sim_client):
    sim.inject(
        "POST /api/ai/queue",
        status=400,
        body={
            "error": {"type": "invalid_params", "detail": "Insufficient credits"},
            "status": "error",
        },
    )

    with pytest.raises(InsufficientCreditsError) as caught:
        sim_client.queue_submit({"prompt": "p"})

    assert "credits" in caught.value.user_message


def test_a_scripted_failure_reaches_the_row(sim, sim_client):
    sim.script_outcomes("fail", error="Insufficient credits", times=1)

    (queued,) = sim_client.queue_submit({"prompt": "p"})
    row = wait_done(sim_client, queued.generation_id)

    assert (row.status, row.error_message) == ("failed", "Insufficient credits")


@pytest.mark.parametrize(
    ("fault", "error_class"),
    [
        ({"status": 500}, TransientError),
        ({"status": 503, "html": True}, TransientError),
        ({"malformed": True}, MalformedResponseError),
        ({"malformed": "truncated"}, MalformedResponseError),
        ({"status": 429, "retry_after": 1}, RateLimitedError),
    ],
)
def test_faults_on_a_get_map_to_errors_when_retries_are_off(sim, sim_client, fault, error_class):
    (queued,) = sim_client.queue_submit({"prompt": "p"})
    sim.inject("GET /api/ai/queue/{id}", **fault)

    with pytest.raises(error_class) as caught:
        sim_client.queue_get(queued.generation_id, retries=0)

    assert caught.value.retryable is True


# -- retries -------------------------------------------------------------------------------------


def test_a_get_waits_out_retry_after_before_the_next_request(sim, sim_client):
    (queued,) = sim_client.queue_submit({"prompt": "p"})
    sim.inject("GET /api/ai/queue/{id}", status=429, retry_after=1, times=1)

    started = time.monotonic()
    row = sim_client.queue_get(queued.generation_id)

    assert time.monotonic() - started >= 1.0
    assert row.generation_id == queued.generation_id
    assert sim.counters()["GET /api/ai/queue/{id}"] == 2


def test_a_get_rides_out_two_server_errors(sim, sim_client):
    (queued,) = sim_client.queue_submit({"prompt": "p"})
    sim.inject("GET /api/ai/queue/{id}", status=503, times=2)

    sim_client.queue_get(queued.generation_id)

    assert sim.counters()["GET /api/ai/queue/{id}"] == 3


def test_a_429_on_the_queue_post_is_raised_without_a_second_post(sim, sim_client):
    sim.inject("POST /api/ai/queue", status=429, retry_after=2, times=1)

    with pytest.raises(RateLimitedError) as caught:
        sim_client.queue_submit({"prompt": "p"})

    assert caught.value.retry_after == 2.0
    assert sim.counters()["POST /api/ai/queue"] == 1
    assert sim.generations_created == 0


def test_a_dropped_queue_post_is_ambiguous_and_reconcilable(sim, sim_client):
    sim.inject("POST /api/ai/queue", drop=True, times=1)

    with pytest.raises(AmbiguousSubmitError):
        sim_client.queue_submit({"prompt": "dropped but created"})

    assert sim.counters()["POST /api/ai/queue"] == 1  # never re-sent
    assert sim.generations_created == 1  # it was accepted after all: reconcile, don't resubmit
    found = sim_client.queue_list(status="queued").generations + sim_client.queue_list().generations
    assert (
        any(g.prompt == "dropped but created" for g in found)
        or sim.generations()[0]["prompt"] == "dropped but created"
    )


def test_a_slow_queue_post_times_out_as_ambiguous(sim, sim_client_factory):
    client = sim_client_factory(sim, timeouts=Timeouts(connect=2.0, read=0.5, write=2.0, pool=2.0))
    sim.inject("POST /api/ai/queue", delay=2.0, times=1)

    with pytest.raises(AmbiguousSubmitError):
        client.queue_submit({"prompt": "p"})

    assert sim.counters()["POST /api/ai/queue"] == 1


def test_a_5xx_on_the_queue_post_is_ambiguous(sim, sim_client):
    sim.inject("POST /api/ai/queue", status=503, times=1)

    with pytest.raises(AmbiguousSubmitError) as caught:
        sim_client.queue_submit({"prompt": "p"})

    assert caught.value.status_code == 503
    assert sim.counters()["POST /api/ai/queue"] == 1


def test_a_refused_connection_is_retried_for_a_post_because_nothing_was_sent(
    sim, sim_client_factory, caplog
):
    client = sim_client_factory(
        sim, retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)
    )
    sim.stop()

    with pytest.raises(ConnectFailedError):
        client.queue_submit({"prompt": "p"}, validate=False)

    assert "POST /api/ai/queue failed (ConnectFailedError), retry 1/1" in caplog.text


# -- events --------------------------------------------------------------------------------------


def collect_events(stream, until, timeout: float = 10.0) -> list:
    """Iterate ``stream`` on a thread until ``until(items)`` holds; return the items."""
    items: list = []
    done = threading.Event()

    def run() -> None:
        for item in stream:
            items.append(item)
            if until(items):
                done.set()
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    done.wait(timeout)
    stream.close()
    thread.join(5)
    return items


def test_events_arrive_for_queued_generations_and_other_types_are_ignored(
    make_sim, sim_client_factory
):
    sim = make_sim(keepalive_interval=0.1, unrelated_events=True)
    client = sim_client_factory(
        sim, events=EventStreamPolicy(read_timeout=0.5, backoff_base=0.05, backoff_max=0.2)
    )
    sim.script_outcomes("fail", error="Insufficient credits", times=1)
    stream = client.events()
    submitted: list[str] = []

    def until(items: list) -> bool:
        if len(items) == 1:  # connected: only now is it safe to enqueue (no replay)
            submitted.extend(
                q.generation_id for q in client.queue_submit({"prompt": "p"}, num_generations=2)
            )
        return sum(isinstance(i, CompletionEvent) for i in items) == 2

    items = collect_events(stream, until)

    events = [i for i in items if isinstance(i, CompletionEvent)]
    assert items[0] == Connected(connection=1, reconnect=False)
    assert {e.generation_id for e in events} == set(submitted)
    assert {e.status for e in events} == {"succeeded", "failed"}
    failed = next(e for e in events if e.status == "failed")
    succeeded = next(e for e in events if e.status == "succeeded")
    assert failed.error == "Insufficient credits" and failed.url is None
    assert succeeded.url and succeeded.model == "bytedance-seedream-4-5"
    assert stream.connections == 1  # keep-alives every 0.1 s kept a 0.5 s read timeout happy


def test_the_stream_reconnects_after_a_drop_and_announces_it(make_sim, sim_client_factory):
    sim = make_sim(keepalive_interval=0.1)
    client = sim_client_factory(
        sim, events=EventStreamPolicy(read_timeout=1.0, backoff_base=0.05, backoff_max=0.2)
    )
    stream = client.events()

    def until(items: list) -> bool:
        if len(items) == 1:
            time.sleep(0.2)
            sim.sse("drop")
        if len(items) == 2:
            client.queue_submit({"prompt": "after the drop"})
        return len(items) == 3

    items = collect_events(stream, until)

    assert items[:2] == [
        Connected(connection=1, reconnect=False),
        Connected(connection=2, reconnect=True),
    ]
    assert isinstance(items[2], CompletionEvent)


def test_a_silent_stream_is_detected_and_replaced(make_sim, sim_client_factory):
    sim = make_sim(keepalive_interval=0.1)
    client = sim_client_factory(
        sim, events=EventStreamPolicy(read_timeout=0.5, backoff_base=0.05, backoff_max=0.2)
    )
    stream = client.events()
    started = time.monotonic()

    def until(items: list) -> bool:
        if len(items) == 1:
            sim.sse("silence")
            threading.Timer(0.8, lambda: sim.sse("resume")).start()
        return len(items) >= 2

    items = collect_events(stream, until)

    assert [type(i) for i in items[:2]] == [Connected, Connected]
    assert items[1].reconnect is True
    assert time.monotonic() - started >= 0.5


# -- downloads -----------------------------------------------------------------------------------


def test_result_urls_over_plain_http_need_the_loopback_flag(sim, sim_client, sim_client_factory):
    (queued,) = sim_client.queue_submit({"prompt": "p"})
    row = wait_done(sim_client, queued.generation_id)
    strict = sim_client_factory(sim, allow_loopback_http=False)

    with pytest.raises(UnsafeURLError):
        strict.download_result(row.result_url)
    assert sim_client.download_result(row.result_url).format == "JPEG"


def test_an_expired_result_url_is_refreshed_from_the_row(make_sim, sim_client_factory):
    sim = make_sim(result_url_ttl=0.2)
    client = sim_client_factory(sim)
    (queued,) = client.queue_submit({"prompt": "p"})
    row = wait_done(client, queued.generation_id)
    assert row.result_url
    expires = int(httpx.URL(row.result_url).params["exp"])  # whole seconds, rounded up

    # Past the expiry on every clock in this process (the simulator's too), without waiting.
    with time_machine.travel(expires + 0.5, tick=True):
        with pytest.raises(ResultExpiredError):
            client.download_result(row.result_url)
        fresh = client.queue_get(queued.generation_id)
        assert client.download_result(fresh.result_url).format == "JPEG"


@pytest.mark.parametrize(
    ("outcome", "error_class"),
    [
        ("truncated", BadContentError),
        ("wrong_format", BadContentError),
        ("oversized", DownloadTooLargeError),
    ],
)
def test_bad_results_are_refused(make_sim, sim_client_factory, outcome, error_class):
    sim = make_sim(oversized_bytes=3 * 1024 * 1024)
    client = sim_client_factory(sim, download_max_bytes=1024 * 1024)
    sim.script_outcomes(outcome, times=1)
    (queued,) = client.queue_submit({"prompt": "p"})
    row = wait_done(client, queued.generation_id)

    with pytest.raises(error_class):
        client.download_result(row.result_url)


class Recording(BaseHTTPRequestHandler):
    """Records request headers; answers per ``answer`` (a redirect or an image)."""

    answer: tuple[int, dict[str, str], bytes] = (200, {}, b"")
    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        status, headers, body = type(self).answer
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[Recording]) -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, server.server_address[1]


@pytest.fixture
def two_hosts() -> Iterator[tuple[type[Recording], type[Recording]]]:
    oxen = type("Oxen", (Recording,), {"seen": []})
    other = type("Other", (Recording,), {"seen": []})
    servers = [serve(oxen), serve(other)]
    oxen.port, other.port = servers[0][1], servers[1][1]  # type: ignore[attr-defined]
    yield oxen, other
    for server, _ in servers:
        server.shutdown()
        server.server_close()


def test_the_key_is_not_sent_to_a_second_host_after_a_redirect(sim, sim_client, two_hosts):
    """The simulator cannot answer redirects, so a tiny server plays the Oxen origin and
    redirects to a second host serving the simulator's real result bytes."""
    (queued,) = sim_client.queue_submit({"prompt": "p"})
    row = wait_done(sim_client, queued.generation_id)
    image = sim_client.download_result(row.result_url).file.read()
    oxen, other = two_hosts
    other.answer = (200, {"Content-Type": "image/jpeg"}, image)
    oxen.answer = (
        302,
        {"Location": f"http://localhost:{other.port}/signed/result.jpeg?sig=1"},
        b"",
    )
    config = ClientConfig(
        api_key=Secret(SIM_KEY),
        base_url=f"http://127.0.0.1:{oxen.port}",
        download_hosts=("localhost",),
        allow_loopback_http=True,
    )

    result = OxenClient(config).download_result(
        f"http://127.0.0.1:{oxen.port}/api/repos/x/y/file/main/r.jpeg"
    )

    assert result.format == "JPEG" and result.size == len(image)
    assert oxen.seen[0]["authorization"] == f"Bearer {SIM_KEY}"
    assert "authorization" not in other.seen[0]


def test_a_redirect_to_a_host_off_the_allow_list_is_not_followed_in_strict_mode(two_hosts):
    oxen, other = two_hosts
    oxen.answer = (302, {"Location": f"http://localhost:{other.port}/x.jpeg"}, b"")
    config = ClientConfig(
        api_key=Secret(SIM_KEY),
        base_url=f"http://127.0.0.1:{oxen.port}",
        allow_loopback_http=True,
        follow_public_redirects=False,
    )

    with pytest.raises(UnsafeURLError):
        OxenClient(config).download_result(f"http://127.0.0.1:{oxen.port}/r.jpeg")

    assert other.seen == []


# -- the key in no error and no log line ---------------------------------------------------------


def test_the_key_is_in_no_exception_and_no_log_record(sim, sim_client, sim_client_factory, caplog):
    caplog.set_level(logging.DEBUG)
    (queued,) = sim_client.queue_submit({"prompt": "p"})
    gid = queued.generation_id
    sim.inject("GET /api/ai/queue/{id}", status=500, times=3)
    sim.inject("POST /api/ai/queue", drop=True, times=1)
    sim.inject("GET /api/ai/generations/{id}", malformed=True, times=1)
    wrong = sim_client_factory(sim, api_key=Secret("wrong-" + SIM_KEY))
    failing = [
        lambda: sim_client.queue_get(gid),
        lambda: sim_client.queue_submit({"prompt": "p"}),
        lambda: sim_client.generation_get(gid, retries=0),
        lambda: sim_client.queue_get("missing"),
        lambda: sim_client.queue_submit({"prompt": ""}),
        lambda: sim_client.images_edit({"prompt": "p", "size": "3K"}, validate=False),
        lambda: wrong.queue_list(),
        lambda: sim_client_factory(sim, allow_loopback_http=False).download_result(
            sim.url("/x.jpeg")
        ),
    ]
    errors: list[OxenError] = []
    for call in failing:
        with pytest.raises(OxenError) as caught:
            call()
        errors.append(caught.value)

    assert len({type(e) for e in errors}) >= 6
    for error in errors:
        for text in (
            str(error),
            repr(error),
            error.user_message,
            str(pickle.loads(pickle.dumps(error))),
        ):
            assert SIM_KEY not in text
    assert any("retry" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert SIM_KEY not in record.getMessage()
    assert SIM_KEY not in caplog.text
