"""The simulator's fault scenarios (issue 9), each reproduced over a real socket with plain
httpx: sustained 429s on every route, flaky 5xx before any work, a restart that keeps state,
model routes down or black-holed, results redirected to a second origin, streams cut short."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from seedream.simulator import Simulator
from seedream.simulator.__main__ import build_parser, config_from_args
from tests.seedream.conftest import SIM_KEY

MODEL = "bytedance-seedream-4-5"
AUTH = {"Authorization": f"Bearer {SIM_KEY}"}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(headers=AUTH, timeout=5.0) as client:
        yield client


def post_queue(http: httpx.Client, sim: Simulator, **body: Any) -> httpx.Response:
    return http.post(sim.url("/api/ai/queue"), json={"model": MODEL, "prompt": "p", **body})


def ids_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [g["generation_id"] for g in response.json()["generations"]]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def api_is_up(sim: Simulator) -> bool:
    try:
        httpx.get(sim.url("/api/ai/models"), timeout=1.0)
    except httpx.TransportError:  # refused, or reset by a listener that is closing
        return False
    return True


# --- sustained 429s ------------------------------------------------------------------------------


def test_every_third_request_on_every_route_is_refused_with_retry_after(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    sim = make_sim(rate_limit_every=3, rate_limit_retry_after=2)
    statuses: list[tuple[str, httpx.Response]] = []

    def call(label: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = http.request(method, url, **kwargs)
        statuses.append((label, response))
        return response

    body = {"model": MODEL, "prompt": "p"}
    [gid] = ids_of(call("submit", "POST", sim.url("/api/ai/queue"), json=body))
    call("model", "GET", sim.url(f"/api/ai/models/{MODEL}"))
    call("status", "GET", sim.url(f"/api/ai/queue/{gid}"))
    sim.wait_for(gid)
    call("download", "GET", sim.result_url(gid))
    call("history", "GET", sim.url("/api/ai/generations"))
    call("download", "GET", sim.result_url(gid))
    call("queue list", "GET", sim.url("/api/ai/queue"))
    call("cost", "GET", sim.url(f"/api/ai/generations/{gid}"))
    call("model", "GET", sim.url(f"/api/ai/models/{MODEL}"))
    call("submit", "POST", sim.url("/api/ai/queue"), json=body)
    call("cancel", "DELETE", sim.url(f"/api/ai/queue/{gid}"))
    call("submit", "POST", sim.url("/api/ai/queue"), json=body)

    refused = [label for n, (label, r) in enumerate(statuses, 1) if r.status_code == 429]
    assert refused == ["status", "download", "model", "submit"]
    for n, (label, response) in enumerate(statuses, 1):
        assert (response.status_code == 429) == (n % 3 == 0), (n, label, response.status_code)
        if response.status_code == 429:
            assert response.headers["retry-after"] == "2"
            assert response.json() == {"error": {"message": "Rate limit exceeded"}}
    assert sim.generations_created == 2  # the refused POST created nothing


def test_rate_limits_switch_at_run_time_and_reset_to_the_configured_value(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    sim = make_sim()
    url = sim.url("/api/ai/queue")
    assert http.post(sim.url("/_sim/scenarios"), json={"rate_limit_every": 2}).status_code == 200
    assert [http.get(url).status_code for _ in range(4)] == [200, 429, 200, 429]
    http.delete(sim.url("/_sim/faults"))  # injected faults only: the scenario stays
    assert [http.get(url).status_code for _ in range(2)] == [200, 429]
    scenarios = http.get(sim.url("/_sim/scenarios")).json()["scenarios"]
    assert scenarios["rate_limit_every"] == 2 and scenarios["rate_limit_retry_after"] == 2

    http.post(sim.url("/_sim/reset"))

    assert [http.get(url).status_code for _ in range(4)] == [200] * 4
    bad = http.post(sim.url("/_sim/scenarios"), json={"rate_limit_everyy": 2})
    assert bad.status_code == 400 and "unknown scenarios" in bad.text
    with pytest.raises(ValueError, match="flaky_5xx_rate"):
        sim.set_scenarios(flaky_5xx_rate=2)


# --- flaky 5xx and a 503 page before any work -------------------------------------------------


def test_flaky_5xx_answer_a_503_page_before_any_work_at_a_seeded_rate(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    def run(sim: Simulator) -> list[int]:
        return [post_queue(http, sim).status_code for _ in range(60)]

    first = make_sim(flaky_5xx_rate=0.2, seed=7, processing_latency=0.01)
    statuses = run(first)

    failed = statuses.count(503)
    assert 4 <= failed <= 20, statuses
    assert set(statuses) == {200, 503}
    assert first.generations_created == statuses.count(200)  # a 503 created nothing
    assert run(make_sim(flaky_5xx_rate=0.2, seed=7, processing_latency=0.01)) == statuses
    page = post_queue_until(http, first, 503)
    assert page.headers["content-type"] == "text/html"
    assert b"503 Service Unavailable" in page.content


def post_queue_until(http: httpx.Client, sim: Simulator, status: int) -> httpx.Response:
    for _ in range(200):
        response = post_queue(http, sim)
        if response.status_code == status:
            return response
    raise AssertionError(f"no {status} in 200 tries")


def test_a_503_page_before_any_work_leaves_nothing_to_find_by_directory(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    sim = make_sim()
    sim.inject("POST /api/ai/queue", status=503, html=True)
    directory = "gallery/team-1/gen-42"

    refused = post_queue(http, sim, target_directory=directory)

    assert refused.status_code == 503 and refused.headers["content-type"] == "text/html"
    assert sim.generations_created == 0
    for status in ("queued", "processing", "succeeded", "failed", "cancelled"):
        listed = http.get(sim.url("/api/ai/queue"), params={"folder": directory, "status": status})
        assert listed.json() == {"count": 0, "generations": []}
    history = http.get(sim.url("/api/ai/generations"), params={"folder": directory}).json()
    assert history["total_entries"] == 0
    # The same request again is accepted, and then the search finds it.
    [gid] = ids_of(post_queue(http, sim, target_directory=directory))
    history = http.get(sim.url("/api/ai/generations"), params={"folder": directory}).json()
    assert [g["generation_id"] for g in history["generations"]] == [gid]


def test_faults_from_the_config_come_back_after_a_reset(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    spec = {"route": "POST /api/ai/queue", "status": 503, "html": True, "times": 1}
    sim = make_sim(faults=(spec,))

    assert [post_queue(http, sim).status_code for _ in range(2)] == [503, 200]
    sim.reset()
    assert [post_queue(http, sim).status_code for _ in range(2)] == [503, 200]


def test_every_and_rate_pick_requests_of_an_injected_fault(
    sim: Simulator, http: httpx.Client
) -> None:
    sim.inject("GET /api/ai/queue", status=500, every=2, times=2)
    url = sim.url("/api/ai/queue")

    assert [http.get(url).status_code for _ in range(6)] == [200, 500, 200, 500, 200, 200]
    with pytest.raises(ValueError, match="every"):
        sim.inject("GET /api/ai/queue", status=500, every=0)
    with pytest.raises(ValueError, match="rate"):
        sim.inject("GET /api/ai/queue", status=500, rate=1.5)
    with pytest.raises(ValueError, match="one of drop, reset and blackhole"):
        sim.inject("GET /api/ai/queue", drop=True, reset=True)
    answer = http.post(sim.url("/_sim/faults"), json={"route": "*", "status": 503, "rate": 1.0})
    assert answer.status_code == 200
    assert http.get(url).status_code == 503


# --- restart with state ----------------------------------------------------------------------


def test_a_restart_keeps_every_generation_and_they_finish_while_it_is_down(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    sim = make_sim(processing_latency=0.3)
    [gid] = ids_of(post_queue(http, sim, target_directory="gallery/t/1"))
    port = sim.port
    restart = threading.Thread(target=sim.restart, args=(1.5,))
    restart.start()
    wait_until(lambda: not sim.running)

    with pytest.raises(httpx.ConnectError):
        http.get(sim.url(f"/api/ai/queue/{gid}"))
    finished = sim.wait_for(gid, timeout=3)  # upstream finishes (and bills) while down
    assert finished["status"] == "succeeded" and not sim.running

    restart.join(timeout=5)
    assert sim.running and sim.port == port
    row = http.get(sim.url(f"/api/ai/generations/{gid}")).json()["generation"]
    assert row["status"] == "succeeded" and row["cost"] == "0.04"
    assert http.get(row["result_url"]).status_code == 200
    assert sim.counters()["POST /api/ai/queue"] == 1


def test_a_restart_cuts_open_event_streams(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    sim = make_sim(keepalive_interval=0.1)
    ended = threading.Event()

    def read() -> None:
        try:
            with http.stream("GET", sim.url("/api/events")) as response:
                for _ in response.iter_lines():
                    pass
        except httpx.HTTPError:
            pass
        ended.set()

    threading.Thread(target=read, daemon=True).start()
    wait_until(lambda: sim.sse_connections() == 1)
    sim.restart(0.2)

    assert ended.wait(2)
    assert sim.running


def test_the_restart_control_route_answers_then_restarts(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    sim = make_sim()
    ids_of(post_queue(http, sim))

    answer = http.post(sim.url("/_sim/restart"), json={"downtime": 0.6})

    assert answer.status_code == 200 and answer.json()["downtime"] == 0.6
    wait_until(lambda: not api_is_up(sim), timeout=2)
    wait_until(lambda: api_is_up(sim), timeout=3)
    assert sim.counters()["POST /api/ai/queue"] == 1
    bad = http.post(sim.url("/_sim/restart"), json={"downtime": -1})
    assert bad.status_code == 400


def test_periodic_restarts_from_the_config_stop_when_switched_off(
    make_sim: Callable[..., Simulator],
) -> None:
    sim = make_sim(restart_every=0.3, restart_downtime=0.2)
    seen: set[bool] = set()
    deadline = time.monotonic() + 3
    while len(seen) < 2 and time.monotonic() < deadline:
        seen.add(api_is_up(sim))
        time.sleep(0.02)
    assert seen == {True, False}

    sim.set_scenarios(restart_every=0)
    wait_until(lambda: sim.running and api_is_up(sim))
    assert all(api_is_up(sim) for _ in range(20))


# --- model routes down or black-holed -------------------------------------------------------------


def test_model_routes_can_answer_503_or_reset_while_the_rest_works(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    sim = make_sim(schema_route="error")
    answer = http.get(sim.url(f"/api/ai/models/{MODEL}"))
    assert answer.status_code == 503 and answer.json()["status_message"] == "unknown_error"
    assert http.get(sim.url("/api/ai/queue")).status_code == 200

    sim.set_scenarios(schema_route="reset")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(sim.url(f"/api/ai/models/{MODEL}"))
    assert http.get(sim.url("/api/ai/queue")).status_code == 200

    sim.set_scenarios(schema_route="up")
    assert http.get(sim.url(f"/api/ai/models/{MODEL}")).status_code == 200


def test_a_black_holed_model_route_accepts_and_never_answers(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    sim = make_sim(schema_route="blackhole")
    started = time.monotonic()

    with pytest.raises(httpx.ReadTimeout):
        http.get(sim.url(f"/api/ai/models/{MODEL}"), timeout=httpx.Timeout(5.0, read=0.5))

    assert 0.4 < time.monotonic() - started < 3
    assert sim.counters()["GET /api/ai/models/{id}"] == 1  # the request arrived
    assert http.get(sim.url("/api/ai/queue")).status_code == 200
    # A hung request does not hold up a stop.
    hung: list[Exception] = []

    def hang() -> None:
        try:
            http.get(sim.url("/api/ai/models"))
        except httpx.HTTPError as exc:
            hung.append(exc)

    waiter = threading.Thread(target=hang, daemon=True)
    waiter.start()
    wait_until(lambda: sim.counters().get("GET /api/ai/models") == 1)
    started = time.monotonic()
    sim.stop()
    waiter.join(timeout=3)
    assert time.monotonic() - started < 3
    assert hung and not waiter.is_alive()  # the client saw the connection close


# --- results redirected to a second origin ----------------------------------------------------


def test_results_redirect_to_a_second_origin_that_records_credentials(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    sim = make_sim(redirect_results=True)
    [gid] = ids_of(post_queue(http, sim))
    result_url = sim.wait_for(gid)["result_url"]

    redirect = http.get(result_url)  # with the key, as a client sends it to Oxen

    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(sim.mirror_base_url + "/results/")
    assert httpx.URL(location).port != httpx.URL(sim.base_url).port
    assert httpx.URL(location).host == "localhost"  # another host name too
    served = httpx.get(location)
    generation = sim.state.get(gid)
    assert generation is not None
    assert served.status_code == 200 and served.content == sim.state.render(generation)
    assert sim.mirror_requests() == [
        {"path": httpx.URL(location).path, "authorization": False, "api_key": False}
    ]
    # The recorder does see a key, so a test asserting "no key here" can fail.
    httpx.get(location, headers=AUTH)
    assert sim.mirror_requests()[-1] == {
        "path": httpx.URL(location).path,
        "authorization": True,
        "api_key": True,
    }
    assert httpx.get(location.replace("sig=", "sig=0")).status_code == 403
    report = http.get(sim.url("/_sim/counters")).json()
    assert len(report["mirror"]["requests"]) == 3
    # The second origin is another host: it keeps serving while the API is down.
    sim.stop_http()
    assert httpx.get(location).status_code == 200
    sim.start_http()
    sim.set_scenarios(redirect_results=False)
    assert http.get(result_url).status_code == 200


# --- event streams cut short ---------------------------------------------------------------------


def test_sse_lifetime_cuts_every_stream_after_its_time(
    make_sim: Callable[..., Simulator], http: httpx.Client
) -> None:
    sim = make_sim(keepalive_interval=0.05, sse_lifetime=0.4)
    started = time.monotonic()
    lines = []
    with (
        pytest.raises(httpx.RemoteProtocolError),  # the stream breaks, as on a real drop
        http.stream("GET", sim.url("/api/events")) as response,
    ):
        lines.extend(response.iter_lines())

    assert 0.35 < time.monotonic() - started < 2
    assert lines.count(": keep-alive") >= 2


# --- the command line --------------------------------------------------------------------------


def test_every_scenario_has_a_command_line_flag() -> None:
    fault = '{"route": "POST /api/ai/queue", "status": 503, "html": true, "times": 2}'
    args = build_parser().parse_args(
        [
            "--api-key=k",
            "--rate-limit-every=3",
            "--rate-limit-retry-after=1",
            "--flaky-5xx=0.2",
            "--schema-route=blackhole",
            "--redirect-results",
            "--mirror-host=localhost",
            "--mirror-port=0",
            "--sse-lifetime=30",
            "--restart-every=60",
            "--restart-downtime=5",
            f"--fault={fault}",
        ]
    )

    config = config_from_args(args)

    assert (config.rate_limit_every, config.rate_limit_retry_after) == (3, 1)
    assert config.flaky_5xx_rate == 0.2 and config.schema_route == "blackhole"
    assert config.redirect_results and config.mirror_host == "localhost"
    assert (config.sse_lifetime, config.restart_every, config.restart_downtime) == (30, 60, 5)
    assert config.faults == (
        {"route": "POST /api/ai/queue", "status": 503, "html": True, "times": 2},
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--fault", "{not json"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--schema-route", "sideways"])
