"""The event listener hands completions to the workers and reconciles on every reconnect."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone

from gallery import oxen
from gallery.accounts.models import User
from gallery.generation import submit, track
from gallery.generation.create import generation_request_create
from gallery.generation.listener import listen
from gallery.generation.models import Generation
from gallery.team.models import Team
from seedream.simulator import Simulator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager(settings: Any) -> Iterator[None]:
    # Tasks the listener sends run at once in this process: this test is about the listener.
    from gallery.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def listener(oxen_sim: Simulator, eager: None) -> Iterator[threading.Event]:
    stop = threading.Event()

    def run() -> None:
        try:
            listen(stop)
        finally:
            connections.close_all()  # the eager tasks' connections, opened in this thread

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not oxen.event_stream_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the catch-up sweep sent on connecting has run (eagerly, in its thread)
    yield stop
    stop.set()
    thread.join(timeout=5)


def wait(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(list(Generation.objects.values_list("status", "last_error")))


def submitted(team: Team, member: User) -> Generation:
    request = generation_request_create(
        team=team,
        author=member,
        prompt="events",
        parameters={},
        references=[],
        batch_size=1,
        schema=oxen.get_schema(model=settings.OXEN_MODEL),
        model="bytedance-seedream-4-5",
    )
    generation = request.generations.get()
    submit.generation_submit(generation_id=generation.pk)
    return Generation.objects.get(pk=generation.pk)


def test_a_completion_event_is_ingested_without_polling(
    listener: threading.Event, oxen_sim: Simulator, team: Team, member: User
) -> None:
    generation = submitted(team, member)
    wait(lambda: Generation.objects.get(pk=generation.pk).status == "succeeded")
    assert Generation.objects.get(pk=generation.pk).checks == 0
    calls = oxen_sim.generation_counters(generation.upstream_id)
    assert "GET /api/ai/queue/{id}" not in calls  # no status poll was needed
    assert oxen.event_stream_connected()


def test_a_reconnect_reconciles_what_the_stream_missed(
    listener: threading.Event, oxen_sim: Simulator, team: Team, member: User
) -> None:
    oxen_sim.sse("silence")
    generation = submitted(team, member)
    oxen_sim.wait_for(generation.upstream_id, {"succeeded"}, timeout=10)
    assert Generation.objects.get(pk=generation.pk).status != "succeeded"  # the event was lost
    Generation.objects.filter(pk=generation.pk).update(next_check_at=timezone.now())
    oxen_sim.sse("resume")
    oxen_sim.sse("drop")  # the listener reconnects, and reconciles on connect
    wait(lambda: Generation.objects.get(pk=generation.pk).status == "succeeded")


def test_polling_is_a_slow_safety_net_with_the_stream_and_every_sweep_without(
    settings: Any, oxen_sim: Simulator
) -> None:
    oxen.listener_heartbeat()
    assert track.poll_interval().total_seconds() <= 30
    oxen.listener_gone()
    sweep_every = settings.CELERY_BEAT_SCHEDULE["generations-sweep"]["schedule"]
    assert track.poll_interval().total_seconds() <= sweep_every


def test_a_reconnect_catches_up_rows_that_are_not_due_yet(
    listener: threading.Event, oxen_sim: Simulator, team: Team, member: User
) -> None:
    """Events fired while the stream was down are gone: the reconnect must look at every row
    in flight, not only those whose next poll is due (they were 30 s away with the stream up)."""
    oxen_sim.sse("silence")
    generation = submitted(team, member)
    later = timezone.now() + track.POLL_MAX_WITH_STREAM
    Generation.objects.filter(pk=generation.pk).update(next_check_at=later)
    oxen_sim.wait_for(generation.upstream_id, {"succeeded"}, timeout=10)
    oxen_sim.sse("resume")
    oxen_sim.sse("drop")
    wait(lambda: Generation.objects.get(pk=generation.pk).status == "succeeded", timeout=5)


def test_the_listener_stops_saying_connected_as_soon_as_the_stream_is_gone(
    listener: threading.Event, oxen_sim: Simulator
) -> None:
    wait(oxen.event_stream_connected, timeout=5)
    oxen_sim.stop_http()  # the stream is cut and reconnects are refused
    started = time.monotonic()
    while oxen.event_stream_connected() and time.monotonic() - started < 10:
        time.sleep(0.1)
    assert time.monotonic() - started < 3, "polling would wait for a stream that is gone"
    oxen_sim.start_http()
    wait(oxen.event_stream_connected, timeout=10)


def test_with_the_stream_up_a_finished_job_is_left_to_its_event_for_a_grace_period(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    """A burst of completions (issue 15): the sweep that finds jobs gone from Oxen's active
    list while their events are on the way must not mark them and queue a second ingest each
    (nor ask Oxen about each); only a row whose event has not come after the grace is asked."""
    generation = submitted(team, member)
    oxen_sim.finish(generation.upstream_id)
    oxen.listener_heartbeat()
    Generation.objects.filter(pk=generation.pk).update(next_check_at=timezone.now())

    started = timezone.now()
    first = track.generations_sweep()
    row = Generation.objects.get(pk=generation.pk)
    assert generation.pk not in first.ingest
    assert row.status in Generation.UPSTREAM_ACTIVE
    assert row.next_check_at >= started + track.EVENT_GRACE
    assert "GET /api/ai/queue/{id}" not in oxen_sim.generation_counters(generation.upstream_id)

    # The event never came: once the grace is over, the sweep asks Oxen and ingests.
    Generation.objects.filter(pk=generation.pk).update(next_check_at=timezone.now())
    oxen.listener_heartbeat()
    assert generation.pk in track.generations_sweep().ingest
    assert Generation.objects.get(pk=generation.pk).status == "downloading"


def test_without_the_stream_a_finished_job_is_asked_about_at_once(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    generation = submitted(team, member)
    oxen_sim.finish(generation.upstream_id)
    oxen.listener_gone()
    Generation.objects.filter(pk=generation.pk).update(next_check_at=timezone.now())
    assert generation.pk in track.generations_sweep().ingest
