"""The /api/events consumer: parsing, filtering, reconnects with markers, silence detection,
backoff that never spins, and stopping from another thread."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from seedream.client import OxenClient
from seedream.config import ClientConfig, EventStreamPolicy, Secret
from seedream.errors import AuthenticationError
from seedream.events import Connected
from seedream.responses import CompletionEvent
from tests.seedream.conftest import API_KEY

SUCCEEDED = {
    "generation_id": "g1",
    "status": "succeeded",
    "media_type": "image",
    "model": "bytedance-seedream-4-5",
    "url": "https://hub.oxen.ai/r/g1.jpeg",
}
FAILED = {
    "generation_id": "g2",
    "status": "failed",
    "media_type": "image",
    "error": "Insufficient credits",
}


def frame(event: str, data: dict | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


def sse_response(
    *chunks: bytes, status: int = 200, content_type: str = "text/event-stream"
) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": content_type}, content=iter(chunks))


def take(stream, count: int) -> list:
    items = []
    for item in stream:
        items.append(item)
        if len(items) == count:
            stream.close()
    return items


def test_completion_events_are_parsed_and_everything_else_ignored(make_client, fake_oxen):
    fake_oxen.on(
        "GET /api/events",
        sse_response(
            b": keep-alive\n\n",
            frame("deployment_updated", {"id": "d1"}),
            frame("media_generation_completed", SUCCEEDED),
            b": keep-alive\n\n",
            frame("media_generation_completed", "{not json"),
            frame("media_generation_completed", {"generation_id": "g3", "status": "cancelled"}),
            frame("media_generation_completed", FAILED),
        ),
    )

    items = take(make_client().events(), 3)

    assert items[0] == Connected(connection=1, reconnect=False)
    assert items[1] == CompletionEvent(
        generation_id="g1",
        status="succeeded",
        media_type="image",
        model="bytedance-seedream-4-5",
        url="https://hub.oxen.ai/r/g1.jpeg",
    )
    assert items[2] == CompletionEvent(
        generation_id="g2", status="failed", media_type="image", error="Insufficient credits"
    )
    request = fake_oxen.calls("GET /api/events")[0]
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["accept"] == "text/event-stream"


def test_every_reconnect_is_announced_so_the_caller_can_reconcile(make_client, fake_oxen):
    fake_oxen.on(
        "GET /api/events",
        sse_response(b": keep-alive\n\n"),  # the server closes the stream
        sse_response(b"", status=503, content_type="application/json"),
        sse_response(b"<html>proxy</html>", content_type="text/html"),
        sse_response(frame("media_generation_completed", SUCCEEDED)),
    )

    items = take(make_client().events(), 3)

    assert items == [
        Connected(connection=1, reconnect=False),
        Connected(connection=2, reconnect=True),
        CompletionEvent(**SUCCEEDED),
    ]
    assert len(fake_oxen.calls("GET /api/events")) == 4


def test_a_bad_key_is_raised_not_retried_forever(make_client, fake_oxen):
    fake_oxen.on(
        "GET /api/events", httpx.Response(401, json={"error": {"type": "unauthenticated"}})
    )

    with pytest.raises(AuthenticationError):
        list(make_client().events())

    assert len(fake_oxen.calls("GET /api/events")) == 1


def test_a_retry_after_on_the_stream_delays_the_reconnect(make_client, fake_oxen):
    fake_oxen.on(
        "GET /api/events",
        httpx.Response(
            429, headers={"Retry-After": "0.3"}, json={"error": {"message": "Rate limit exceeded"}}
        ),
        sse_response(frame("media_generation_completed", SUCCEEDED)),
    )
    client = make_client(
        events=EventStreamPolicy(read_timeout=1.0, backoff_base=0.001, backoff_max=1.0)
    )

    started = time.monotonic()
    take(client.events(), 2)

    assert time.monotonic() - started >= 0.3


# -- real sockets ----------------------------------------------------------------------------


class ScriptedSSE(BaseHTTPRequestHandler):
    """Connection n plays scripts[n] (the last one repeats): chunks, then "close" or "hang"."""

    protocol_version = "HTTP/1.1"
    scripts: list[tuple[list[bytes], str]] = []
    connections = 0
    release = threading.Event()

    def do_GET(self) -> None:
        cls = type(self)
        script = cls.scripts[min(cls.connections, len(cls.scripts) - 1)]
        cls.connections += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        chunks, ending = script
        for chunk in chunks:
            self.wfile.write(chunk)
            self.wfile.flush()
        if ending == "hang":
            cls.release.wait(10)  # silent: no data, not even keep-alives

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sse_server() -> Iterator[type[ScriptedSSE]]:
    handler = type(
        "Handler", (ScriptedSSE,), {"scripts": [], "connections": 0, "release": threading.Event()}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.port = server.server_address[1]  # type: ignore[attr-defined]
    yield handler
    handler.release.set()
    server.shutdown()
    server.server_close()


def real_client(port: int, **policy: float) -> OxenClient:
    defaults = {"read_timeout": 0.3, "backoff_base": 0.01, "backoff_max": 0.05}
    config = ClientConfig(
        api_key=Secret(API_KEY),
        base_url=f"http://127.0.0.1:{port}",
        events=EventStreamPolicy(**{**defaults, **policy}),
    )
    return OxenClient(config, http=httpx.Client())


def test_a_silent_connection_is_detected_and_replaced(sse_server, caplog):
    sse_server.scripts = [
        ([b": keep-alive\n\n"], "hang"),
        ([frame("media_generation_completed", SUCCEEDED)], "hang"),
    ]
    client = real_client(sse_server.port)

    started = time.monotonic()
    items = take(client.events(), 3)

    assert [type(i) for i in items] == [Connected, Connected, CompletionEvent]
    assert items[1].reconnect is True
    assert 0.3 <= time.monotonic() - started < 3
    assert "silent" in caplog.text


def test_setting_the_stop_event_ends_a_blocked_read_promptly(sse_server):
    sse_server.scripts = [([b": keep-alive\n\n"], "hang")]
    client = real_client(sse_server.port, read_timeout=30.0)
    stop = threading.Event()
    stream = client.events(stop=stop)
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.extend(stream), daemon=True)

    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    stop.set()
    thread.join(5)

    assert not thread.is_alive()
    assert time.monotonic() - started < 2
    assert seen == [Connected(connection=1, reconnect=False)]


def test_a_server_that_drops_every_connection_is_not_hammered(sse_server):
    sse_server.scripts = [([], "close")]  # accept, send headers, close: no data at all
    client = real_client(sse_server.port, backoff_base=0.02, backoff_max=0.2)
    stream = client.events()
    markers: list[object] = []
    thread = threading.Thread(target=lambda: markers.extend(stream), daemon=True)

    thread.start()
    time.sleep(1.0)
    stream.close()
    thread.join(5)

    # Full jitter averages ~0.1 s per wait at the cap: a handful of attempts, never thousands.
    assert 3 <= sse_server.connections <= 40
    assert stream.failures >= 3


def test_a_refused_connection_backs_off_too(caplog):
    caplog.set_level(logging.WARNING)
    import socket

    with socket.socket() as probe:  # find a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stream = real_client(port, backoff_base=0.02, backoff_max=0.2).events()
    thread = threading.Thread(target=lambda: list(stream), daemon=True)

    thread.start()
    time.sleep(1.0)
    stream.close()
    thread.join(5)

    assert not thread.is_alive()
    attempts = caplog.text.count("event stream")
    assert 2 <= attempts <= 40
    assert API_KEY not in caplog.text
