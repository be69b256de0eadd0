"""Issue 9, item 8: results that Oxen redirects to another host are fetched, without the key,
with the SSRF checks run again on every hop; a refusal by the download settings is a distinct
``policy`` error that succeeds once the settings allow the host."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from seedream.client import OxenClient
from seedream.errors import ConnectFailedError, DownloadPolicyError, UnsafeURLError
from tests.seedream.test_download import (
    JPEG,
    PATH,
    RESULT,
    Recorder,
    downloader,
    redirect,
)


def test_a_redirect_to_a_public_host_off_the_allow_list_is_followed_without_the_key():
    recorder = Recorder(
        {
            PATH: redirect("https://storage.example.net/b/g1.jpeg?X-Goog-Signature=s"),
            "storage.example.net/b/g1.jpeg": httpx.Response(200, content=JPEG),
        }
    )

    result = downloader(recorder, {"storage.example.net": ["142.250.1.1"]}).fetch(RESULT)

    assert result.size == len(JPEG)
    first, second = recorder.requests
    assert first.headers["authorization"].startswith("Bearer ")
    assert "authorization" not in second.headers
    assert result.final_url == "https://storage.example.net/b/g1.jpeg"


@pytest.mark.parametrize(
    ("location", "addresses"),
    [
        ("https://internal.example.net/x.jpeg", ["10.0.0.7"]),
        ("https://metadata.example.net/x.jpeg", ["169.254.169.254"]),
        ("https://local.example.net/x.jpeg", ["127.0.0.1"]),
        ("https://mixed.example.net/x.jpeg", ["142.250.1.1", "192.168.0.3"]),
        ("https://[::1]/x.jpeg", ["::1"]),
    ],
)
def test_a_redirect_to_a_private_address_is_refused_before_any_request(location, addresses):
    recorder = Recorder({PATH: redirect(location)})
    host = httpx.URL(location).host

    with pytest.raises(DownloadPolicyError) as caught:
        downloader(recorder, {host: addresses}).fetch(RESULT)

    assert len(recorder.requests) == 1  # only the Oxen hop was sent
    assert caught.value.category == "policy" and caught.value.nothing_sent


def test_a_redirect_may_not_downgrade_to_http_or_carry_credentials():
    recorder = Recorder({PATH: redirect("http://storage.example.net/x.jpeg")})
    with pytest.raises(DownloadPolicyError, match="https"):
        downloader(recorder, {"storage.example.net": ["142.250.1.1"]}).fetch(RESULT)

    recorder = Recorder({PATH: redirect("https://u:p@storage.example.net/x.jpeg")})
    with pytest.raises(UnsafeURLError, match="credentials") as caught:
        downloader(recorder, {"storage.example.net": ["142.250.1.1"]}).fetch(RESULT)
    assert caught.value.category == "permanent"


def test_a_redirect_chain_across_hosts_is_capped():
    hops = {PATH: redirect("https://a.example.net/1")}
    for n in range(1, 10):
        hops[f"a.example.net/{n}"] = redirect(f"https://a.example.net/{n + 1}")
    recorder = Recorder(hops)

    with pytest.raises(UnsafeURLError, match="redirects"):
        downloader(recorder, {"a.example.net": ["142.250.1.1"]}).fetch(RESULT)

    assert len(recorder.requests) == 6  # the first request plus download_max_redirects (5)


def test_a_policy_refusal_succeeds_once_the_settings_allow_the_host():
    url = "https://results.example.org/g1.jpeg"
    recorder = Recorder({"results.example.org/g1.jpeg": httpx.Response(200, content=JPEG)})
    table = {"results.example.org": ["151.101.7.7"]}

    with pytest.raises(DownloadPolicyError) as caught:
        downloader(recorder, table).fetch(url)
    assert recorder.requests == [] and caught.value.category == "policy"
    assert not caught.value.retryable  # not by itself: only after the settings change

    allowed = downloader(recorder, table, download_hosts=("results.example.org",)).fetch(url)
    assert allowed.size == len(JPEG)


# --- over real sockets, against the simulator's second origin ---------------------------------


def wait_done(client: OxenClient, generation_id: str) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = client.queue_get(generation_id)
        if row.is_terminal:
            return row
        time.sleep(0.02)
    raise AssertionError("generation did not finish")


def test_a_result_redirected_to_a_second_origin_arrives_and_the_key_never_does(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim(redirect_results=True)
    client = sim_client_factory(sim)
    (queued,) = client.queue_submit({"prompt": "a lighthouse"})
    row = wait_done(client, queued.generation_id)

    result = client.download_result(row.result_url)

    generation = sim.state.get(queued.generation_id)
    assert result.file.read() == sim.state.render(generation)
    assert result.final_url.startswith(sim.mirror_base_url)
    assert sim.mirror_requests() == [
        {"path": f"/results/{queued.generation_id}.jpeg", "authorization": False, "api_key": False}
    ]
    # The key did go to the Oxen origin (the first hop).
    counters = sim.generation_counters(queued.generation_id)
    assert counters["GET /api/repos/{namespace}/{repo}/file/{branch}/{path}"] == 1


def test_the_strict_mode_refuses_the_second_origin_with_a_policy_error(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim(redirect_results=True)
    strict = sim_client_factory(sim, follow_public_redirects=False)
    (queued,) = strict.queue_submit({"prompt": "a lighthouse"})
    row = wait_done(strict, queued.generation_id)

    with pytest.raises(DownloadPolicyError):
        strict.download_result(row.result_url)

    assert sim.mirror_requests() == []
    mirror_host = httpx.URL(sim.mirror_base_url).host
    # Allowing the second origin's host is a settings change; the same URL then works.
    allowed = sim_client_factory(sim, follow_public_redirects=False, download_hosts=(mirror_host,))
    assert allowed.download_result(row.result_url).size > 0
    assert [r["authorization"] for r in sim.mirror_requests()] == [False]


def test_a_download_from_a_closed_port_is_a_refusal_nothing_was_sent(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim()
    client = sim_client_factory(sim)
    (queued,) = client.queue_submit({"prompt": "p"})
    url = wait_done(client, queued.generation_id).result_url
    sim.stop_http()

    with pytest.raises(ConnectFailedError) as caught:
        client.download_result(url)

    assert caught.value.category == "refused" and caught.value.nothing_sent
    sim.start_http()
    assert client.download_result(url).size > 0
