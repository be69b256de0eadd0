"""Fixtures for the Oxen client tests: request schemas of both eras, a scripted
``httpx.MockTransport`` and a client wired to it with a fake sleep, and the local simulator."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx

from seedream.client import OxenClient
from seedream.config import ClientConfig, EventStreamPolicy, RetryPolicy, Secret
from seedream.schema import RequestSchema
from tests.seedream.contract import CURRENT_SCHEMA, LEGACY_SCHEMA

API_KEY = "sk-test-SECRET-9f8e7d6c5b4a"


def model_body(schema: dict[str, Any], *, field_name: str = "request_schema") -> dict[str, Any]:
    """A ``GET /api/ai/models/{id}`` body carrying ``schema``."""
    return {
        "id": "bytedance-seedream-4-5",
        "object": "model",
        "created": 1764000000,
        "owned_by": "oxen",
        "display_name": "Seedream 4.5",
        "endpoint": "/images/generate",
        "pricing": {"method": "per_image", "cost_per_image": 0.04, "cost_per_image_grid": None},
        field_name: schema,
    }


def queue_row(generation_id: str = "gen-1", **changes: Any) -> dict[str, Any]:
    """A ``QueueGenerationResponse`` body."""
    row: dict[str, Any] = {
        "generation_id": generation_id,
        "model_name": "bytedance-seedream-4-5",
        "prompt": "a red fox",
        "media_type": "image",
        "status": "queued",
        "result_url": None,
        "error_message": None,
        "enqueued_at": 1775091431,
        "started_at": None,
        "completed_at": None,
        "target_namespace": "me",
        "target_repo": None,
        "target_directory": None,
        "size": "2K",
    }
    row.update(changes)
    return row


type Handler = Callable[[httpx.Request], httpx.Response]


class FakeOxen:
    """A scripted Oxen on a respx router, for ``httpx.MockTransport``: routes by "METHOD /path",
    answers per route in order (the last one repeats), unscripted routes answer 404, and
    every request is kept (``respx``'s call log)."""

    UNSCRIPTED = "unscripted"

    def __init__(self) -> None:
        self.router = respx.MockRouter(assert_all_called=False)
        self.router.route(name=self.UNSCRIPTED).respond(
            404, json={"error": {"type": "resource_not_found"}}
        )

    def on(self, route: str, *answers: Handler | httpx.Response | dict[str, Any]) -> None:
        """Script the answers of ``route`` ("GET /api/ai/queue/gen-1"), in order."""
        method, path = route.split(" ", 1)
        queue = [httpx.Response(200, json=a) if isinstance(a, dict) else a for a in answers]

        def answer(request: httpx.Request) -> httpx.Response:
            next_answer = queue.pop(0) if len(queue) > 1 else queue[0]
            return next_answer if isinstance(next_answer, httpx.Response) else next_answer(request)

        # respx matches routes in the order they were added: keep the 404 fallback last.
        fallback = self.router.routes.pop(self.UNSCRIPTED)
        self.router.routes.pop(route, None)
        self.router.route(name=route, method=method, path=path).mock(side_effect=answer)
        self.router.routes.add(fallback, name=self.UNSCRIPTED)

    @property
    def requests(self) -> list[httpx.Request]:
        return [call.request for call in self.router.calls]

    def calls(self, route: str) -> list[httpx.Request]:
        """The requests received on ``route``."""
        return [r for r in self.requests if f"{r.method} {r.url.path}" == route]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.router.handler(request)


@dataclass
class FakeSleep:
    """Records the waits a client asks for instead of sleeping."""

    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def fake_oxen() -> FakeOxen:
    oxen = FakeOxen()
    oxen.on("GET /api/ai/models/bytedance-seedream-4-5", model_body(CURRENT_SCHEMA))
    return oxen


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def make_client(fake_oxen: FakeOxen, fake_sleep: FakeSleep) -> Iterator[Callable[..., OxenClient]]:
    """Build an :class:`OxenClient` on the fake transport; keyword args change the config."""
    opened: list[httpx.Client] = []

    def make(**changes: Any) -> OxenClient:
        config = ClientConfig(
            api_key=Secret(API_KEY),
            retry=RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=30.0, max_sleep=60.0),
            events=EventStreamPolicy(read_timeout=1.0, backoff_base=0.01, backoff_max=0.05),
            schema_ttl=0,
        ).replace(**changes)
        http = httpx.Client(transport=httpx.MockTransport(fake_oxen))
        opened.append(http)
        return OxenClient(config, http=http, sleep=fake_sleep, rng=random.Random(7))

    yield make
    for http in opened:
        http.close()


def current_schema() -> RequestSchema:
    return RequestSchema(CURRENT_SCHEMA)


def legacy_schema() -> RequestSchema:
    return RequestSchema(LEGACY_SCHEMA)


def json_of(request: httpx.Request) -> Any:
    """The JSON body of a recorded request."""
    return json.loads(request.content)


# -- the local simulator (contract tests) ----------------------------------------------------

SIM_KEY = "sim-key-CONTRACT-5e4d3c2b1a"


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Any]]:
    """Start simulators with small latencies; keyword args override the config."""
    from seedream.simulator import Simulator, SimulatorConfig

    started: list[Any] = []

    def make(**overrides: Any) -> Any:
        config = SimulatorConfig(
            api_key=SIM_KEY,
            port=0,
            queue_latency=(0.05, 0.05),
            processing_latency=(0.2, 0.2),
            sync_latency=(0.05, 0.05),
            image_size="small",
            keepalive_interval=15.0,
            result_url_ttl=3600.0,
            schema_era="current",
            schema_field="request_schema",
        )
        sim = Simulator(config, **overrides).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: Callable[..., Any]) -> Any:
    """A running simulator (function-scoped, small latencies)."""
    return make_sim()


@pytest.fixture
def sim_client_factory() -> Iterator[Callable[..., OxenClient]]:
    """Build clients for a simulator: loopback http allowed, short retries and backoffs."""
    from seedream.pool import close_shared_clients

    opened: list[httpx.Client] = []

    def make(sim: Any, **changes: Any) -> OxenClient:
        config = ClientConfig(
            api_key=Secret(SIM_KEY),
            base_url=sim.base_url,
            allow_loopback_http=True,
            schema_ttl=0,
            retry=RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.2, max_sleep=5.0),
            events=EventStreamPolicy(read_timeout=2.0, backoff_base=0.05, backoff_max=0.2),
        ).replace(**changes)
        http = httpx.Client(timeout=config.timeouts.to_httpx())
        opened.append(http)
        return OxenClient(config, http=http)

    yield make
    for http in opened:
        http.close()
    close_shared_clients()


@pytest.fixture
def sim_client(sim: Any, sim_client_factory: Callable[..., OxenClient]) -> OxenClient:
    """A client for the ``sim`` fixture."""
    return sim_client_factory(sim)
