"""What the app's budgets need from the client (issue 9, items 1, 3, 5, 9): every error says
whether Oxen refused the request (a wait, nothing done), failed on the way (transient), may
have accepted it (ambiguous) or cannot be helped (permanent); and a read for a web request is
bounded in total, connecting and retries included, even when Oxen never answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from seedream.client import OxenClient
from seedream.config import ClientConfig, Secret
from seedream.errors import (
    AmbiguousSubmitError,
    ConnectFailedError,
    InvalidRequestError,
    OxenError,
    RateLimitedError,
    SchemaValidationError,
    TransientError,
)
from seedream.schema import RequestSchema
from tests.seedream.conftest import SIM_KEY, model_body

MODEL_ROUTE = "GET /api/ai/models/{id}"


def elapsed(fn: Callable[[], Any]) -> tuple[float, BaseException]:
    started = time.monotonic()
    with pytest.raises(OxenError) as caught:
        fn()
    return time.monotonic() - started, caught.value


# --- the short-timeout schema read ------------------------------------------------------------


def test_a_schema_read_with_a_timeout_returns_within_it_when_oxen_never_answers(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim(schema_route="blackhole")
    client = sim_client_factory(sim)

    seconds, error = elapsed(lambda: client.request_schema(timeout=1.0))

    assert seconds < 3  # seconds, not 4 tries x 30 s
    assert isinstance(error, TransientError) and error.category == "transient"
    assert sim.counters()[MODEL_ROUTE] == 1


def test_a_schema_read_with_a_timeout_against_a_closed_port_is_a_quick_refusal(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim()
    client = sim_client_factory(sim)
    sim.stop_http()

    seconds, error = elapsed(lambda: client.request_schema(timeout=1.0))

    assert seconds < 3
    assert isinstance(error, ConnectFailedError)
    assert error.category == "refused" and error.is_refusal and error.nothing_sent


def test_a_schema_read_retries_5xx_only_while_its_budget_lasts(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim(schema_route="error")
    client = sim_client_factory(sim)

    seconds, error = elapsed(lambda: client.request_schema(timeout=0.5))

    assert seconds < 2 and error.category == "transient"
    assert sim.counters()[MODEL_ROUTE] >= 2  # retried inside the budget
    sim.set_scenarios(schema_route="up")
    assert client.request_schema(timeout=3.0).properties["prompt"]["type"] == "string"


class Drip(BaseHTTPRequestHandler):
    """A model route that answers at once, then drips its body one byte every 0.1 s."""

    protocol_version = "HTTP/1.1"
    body = b'{"id": "bytedance-seedream-4-5"}' + b" " * 200

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        try:
            for byte in self.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def drip_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_slow_drip_cannot_outlast_the_timeout(drip_url: str):
    client = OxenClient(ClientConfig(api_key=Secret(SIM_KEY), base_url=drip_url))

    seconds, error = elapsed(lambda: client.model_get(timeout=1.0))

    assert seconds < 2.5 and error.category == "transient"


# --- refusal, transient, ambiguous, permanent ---------------------------------------------------


def test_a_429_is_a_refusal_with_its_retry_after_on_reads_and_submits(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim()
    client = sim_client_factory(sim)
    sim.set_scenarios(rate_limit_every=1, rate_limit_retry_after=2)

    with pytest.raises(RateLimitedError) as read:
        client.queue_list(retries=0)
    with pytest.raises(RateLimitedError) as submit:
        client.queue_submit({"prompt": "p"}, schema=None, validate=False)

    for error in (read.value, submit.value):
        assert error.category == "refused" and error.is_refusal and error.retry_after == 2
        assert not error.nothing_sent  # it reached Oxen, which did nothing with it
    assert sim.generations_created == 0


def test_a_submit_refused_at_connect_is_a_refusal_nothing_was_sent(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim()
    client = sim_client_factory(sim)
    schema = client.request_schema()
    sim.stop_http()

    with pytest.raises(ConnectFailedError) as caught:
        client.queue_submit({"prompt": "p"}, schema=schema)

    assert caught.value.category == "refused" and caught.value.nothing_sent
    assert sim.generations_created == 0


@pytest.mark.parametrize(
    ("fault", "category"),
    [
        ({"status": 503, "html": True}, "ambiguous"),  # a 503 page: created or not?
        ({"reset": True}, "ambiguous"),  # closed without an answer
        ({"drop": True}, "ambiguous"),  # created, then closed
        ({"status": 400}, "permanent"),
    ],
)
def test_submit_failures_are_ambiguous_unless_oxen_said_what_happened(
    make_sim: Callable[..., Any],
    sim_client_factory: Callable[..., OxenClient],
    fault: dict[str, Any],
    category: str,
):
    sim = make_sim()
    client = sim_client_factory(sim)
    schema = client.request_schema()
    sim.inject("POST /api/ai/queue", **fault)

    with pytest.raises(OxenError) as caught:
        client.queue_submit({"prompt": "p"}, schema=schema)

    assert caught.value.category == category
    assert isinstance(caught.value, AmbiguousSubmitError) == (category == "ambiguous")
    assert sim.counters()["POST /api/ai/queue"] == 1  # never sent twice


@pytest.mark.parametrize(
    ("fault", "error_class"),
    [
        ({"status": 503}, TransientError),
        ({"status": 502, "html": True}, TransientError),
        ({"reset": True}, TransientError),
        ({"malformed": True}, TransientError),
        ({"status": 404}, OxenError),
    ],
)
def test_read_failures_are_transient_unless_permanent(
    make_sim: Callable[..., Any],
    sim_client_factory: Callable[..., OxenClient],
    fault: dict[str, Any],
    error_class: type[OxenError],
):
    sim = make_sim()
    client = sim_client_factory(sim)
    sim.inject("GET /api/ai/queue", **fault)

    with pytest.raises(error_class) as caught:
        client.queue_list(retries=0)

    expected = "permanent" if fault.get("status") == 404 else "transient"
    assert caught.value.category == expected and caught.value.retryable == (expected == "transient")


def test_a_request_that_fails_validation_was_never_sent(fake_oxen, make_client):
    client = make_client()

    with pytest.raises(SchemaValidationError) as caught:
        client.queue_submit({"prompt": "p", "size": "8K"})

    assert caught.value.category == "permanent" and caught.value.nothing_sent
    assert fake_oxen.calls("POST /api/ai/queue") == []


def test_an_invalid_request_answer_is_permanent(fake_oxen, make_client):
    fake_oxen.on("GET /api/ai/models/bytedance-seedream-4-5", model_body({}))
    fake_oxen.on(
        "POST /api/ai/queue",
        {"error": {"type": "invalid_request", "detail": "num_generations must be ..."}},
    )

    with pytest.raises(InvalidRequestError) as caught:
        make_client().queue_submit({"prompt": "p"})

    assert caught.value.category == "permanent" and not caught.value.is_refusal


def test_the_last_good_schema_can_be_stored_as_json_and_used_while_oxen_is_down(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim()
    client = sim_client_factory(sim)
    live = client.request_schema(timeout=3.0)
    stored = json.dumps(live.as_json())
    sim.stop_http()

    schema = RequestSchema.from_json(json.loads(stored))

    assert schema.cost_per_image == Decimal("0.04")
    assert schema.form_fields() == live.form_fields()
    with pytest.raises(SchemaValidationError):
        schema.prepare({"model": "m", "prompt": "p", "size": "8K"})
    with pytest.raises(ValueError, match="stored request schema"):
        RequestSchema.from_json({"cost_per_image": 4})
