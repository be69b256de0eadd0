"""Issue 9, item 4: the event stream says itself whether it is up. With ``liveness=True`` every
keep-alive and skipped event is a ``KeepAlive``, and a dropped, restarted or silent stream is a
``Disconnected`` as soon as the consumer can know, so a listener's heartbeat stops with it."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from seedream.client import OxenClient
from seedream.config import EventStreamPolicy
from seedream.events import Connected, Disconnected, EventStream, KeepAlive
from seedream.responses import CompletionEvent


class Collector:
    """Iterates an event stream on a thread; items arrive with their arrival time."""

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream
        self.items: queue.Queue[tuple[float, Any]] = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self.stream:
                self.items.put((time.monotonic(), item))
        except BaseException as exc:  # surfaced by the test through next()
            self.error = exc

    def next(self, kind: type, timeout: float = 5.0) -> tuple[float, Any, list[Any]]:
        """The next item of ``kind``, when it arrived, and what came before it."""
        skipped: list[Any] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind.__name__} in {timeout}s; got {skipped!r}")
            try:
                at, item = self.items.get(timeout=left)
            except queue.Empty:
                continue
            if isinstance(item, kind):
                return at, item, skipped
            skipped.append(item)

    def drain(self, seconds: float) -> list[Any]:
        """Everything that arrives within ``seconds``."""
        seen = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                seen.append(self.items.get(timeout=left)[1])
            except queue.Empty:
                break
        return seen

    def close(self) -> None:
        self.stream.close()
        self._thread.join(timeout=5)
        assert self.error is None, self.error


@pytest.fixture
def collect() -> Iterator[Callable[..., Collector]]:
    opened: list[Collector] = []

    def start(client: OxenClient, **kwargs: Any) -> Collector:
        collector = Collector(client.events(**kwargs))
        opened.append(collector)
        return collector

    yield start
    for collector in opened:
        collector.close()


def test_keepalives_are_surfaced_and_a_drop_is_reported_at_once(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient], collect
):
    sim = make_sim(keepalive_interval=0.1)
    stream = collect(sim_client_factory(sim), liveness=True)

    _, first, _ = stream.next(Connected)
    assert first == Connected(connection=1, reconnect=False)
    stream.next(KeepAlive)
    _, keepalive, _ = stream.next(KeepAlive)
    assert keepalive == KeepAlive(connection=1)
    assert stream.stream.connected and stream.stream.last_activity is not None

    dropped_at = time.monotonic()
    assert sim.sse("drop") == 1
    seen_at, gone, _ = stream.next(Disconnected)

    assert gone.connection == 1 and gone.reason.startswith(("dropped", "closed"))
    assert seen_at - dropped_at < 2.0  # seconds, not the 45 s read timeout
    _, again, _ = stream.next(Connected)
    assert again == Connected(connection=2, reconnect=True)


def test_completions_and_skipped_events_both_prove_the_stream_is_up(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient], collect
):
    sim = make_sim(unrelated_events=True)
    client = sim_client_factory(sim)
    stream = collect(client, liveness=True)
    stream.next(Connected)

    (queued,) = client.queue_submit({"prompt": "p"})
    _, event, before = stream.next(CompletionEvent)

    assert event.generation_id == queued.generation_id and event.status == "succeeded"
    # The unrelated deployment event before it was skipped, but reported as activity.
    assert KeepAlive(connection=1) in before


def test_without_liveness_the_stream_yields_what_it_always_did(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient], collect
):
    sim = make_sim(keepalive_interval=0.05)
    stream = collect(sim_client_factory(sim))
    stream.next(Connected)
    time.sleep(0.3)  # several keep-alives
    sim.sse("drop")

    _, again, skipped = stream.next(Connected)

    assert again.reconnect and skipped == []


def test_a_silent_stream_stops_the_keepalives_and_is_dropped_after_the_read_timeout(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient], collect
):
    sim = make_sim(keepalive_interval=0.05)
    policy = EventStreamPolicy(read_timeout=0.8, backoff_base=0.05, backoff_max=0.1)
    stream = collect(sim_client_factory(sim, events=policy), liveness=True)
    stream.next(KeepAlive)

    sim.sse("silence")
    silenced_at = time.monotonic()
    seen_at, gone, before = stream.next(Disconnected)

    # Nothing after the last keep-alive in flight: a heartbeat written on KeepAlive lapses.
    assert all(isinstance(item, KeepAlive) for item in before)
    assert gone.reason == "silent for 0.8s"
    assert 0.5 < seen_at - silenced_at < 3
    sim.sse("resume")
    stream.next(Connected)


def test_a_restart_is_a_disconnect_then_a_reconnect(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient], collect
):
    sim = make_sim(keepalive_interval=0.1)
    stream = collect(sim_client_factory(sim), liveness=True)
    stream.next(KeepAlive)
    restart = threading.Thread(target=sim.restart, args=(0.5,))

    restarted_at = time.monotonic()
    restart.start()
    seen_at, _, _ = stream.next(Disconnected)
    back_at, again, skipped = stream.next(Connected)

    assert seen_at - restarted_at < 2.0
    assert again.connection == 2
    assert not any(isinstance(item, Disconnected) for item in skipped)  # failed tries: silent
    assert back_at - restarted_at >= 0.5
    restart.join()
