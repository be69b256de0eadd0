"""Crash tests with real worker processes, real Redis, PostgreSQL and the simulator.

A Celery worker (prefork, two children) and beat run as subprocesses against the test database.
The worker is killed with SIGKILL, process group and all, in the middle of each stage of a
batch; a new worker is started, and every generation must still reach a terminal state, with
exactly one POST per generation upstream and no half-written file in storage.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from kombu import Connection

from gallery import tasks
from gallery.accounts.models import User
from gallery.generation.create import generation_request_create
from gallery.generation.models import GalleryImage, Generation
from gallery.media.models import Thumbnail
from gallery.oxen import get_schema
from gallery.team.models import Team
from seedream.simulator import Simulator, SimulatorConfig
from tests.reliability.campaign import Fleet

ROOT = Path(__file__).resolve().parents[2]
QUEUE_POST = "POST /api/ai/queue"
PRIVATE_REDIS_DB = 13
FILE_GET = "GET /api/repos/{namespace}/{repo}/file/{branch}/{path}"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("redis-worker"),
    pytest.mark.django_db(transaction=True),
]


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}{password}@{host}/{db['NAME']}"


class Processes(Fleet):
    """The campaign's processes, with a prefork worker of two children (the pool whose
    children a SIGKILL can take mid-task) and a private queue this test publishes to."""

    COMMANDS = {
        **Fleet.COMMANDS,
        "worker": [
            "-m", "celery", "-A", "gallery", "worker", "--concurrency", "2", "--pool",
            "prefork", "--without-mingle", "--without-gossip", "--loglevel", "INFO",
        ],
    }  # fmt: skip

    def __init__(self, env: dict[str, str], logs: Path, broker: str, queue: str) -> None:
        super().__init__(env, logs)
        self.broker = broker
        self.queue = queue

    def submit(self, ids: list[int]) -> None:
        """What the on_commit hook does in the app, sent to this test's own broker."""
        with Connection(self.broker) as connection:
            for pk in ids:
                tasks.generation_submit.apply_async((pk,), connection=connection, queue=self.queue)

    def queued(self) -> int:
        return int(redis.Redis.from_url(self.broker).llen(self.queue))

    def output(self) -> str:
        return self.tail(3000)


@pytest.fixture
def slow_sim(settings: Any, media_storage: Path) -> Iterator[Simulator]:
    config = SimulatorConfig(
        api_key="sim-crash-key-0123456789",
        queue_latency=(0.3, 0.3),
        processing_latency=(2.0, 2.0),
        image_size="small",
        keepalive_interval=1.0,
    )
    with Simulator(config).start() as sim:
        settings.OXEN_API_KEY = sim.api_key
        settings.OXEN_BASE_URL = sim.base_url
        settings.OXEN_SIMULATOR = True
        yield sim


@pytest.fixture
def processes(
    slow_sim: Simulator,
    media_storage: Path,
    tmp_path: Path,
    redis_url: str,
    postgres: None,
    settings: Any,
) -> Iterator[Processes]:
    # A broker database and a queue of their own, so no other worker (another test, another
    # test run on this machine) can take these messages; the test publishes to them explicitly.
    broker = redis_url.rsplit("/", 1)[0] + f"/{PRIVATE_REDIS_DB}"
    queue = f"crash-test-{uuid.uuid4().hex[:12]}"
    settings.GENERATION_STALE_SECONDS = 3
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DATABASE_URL=database_url(),
        REDIS_URL=broker,
        CELERY_QUEUE=queue,
        OXEN_API_KEY=slow_sim.api_key,
        OXEN_BASE_URL=slow_sim.base_url,
        OXEN_SIMULATOR="true",
        MEDIA_ROOT=str(media_storage),
        VAR_DIR=str(tmp_path / "var"),
        SECRET_KEY="crash-test-secret-key-0123456789-abcdefghijklmnop",
        GENERATION_STALE_SECONDS="3",
        CELERY_VISIBILITY_TIMEOUT="120",
        DB_CONN_MAX_AGE="0",
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(env, logs, broker, queue)
    yield procs
    procs.stop_all()
    redis.Redis.from_url(broker).delete(queue)


def wait_for(condition: Callable[[], bool], timeout: float, what: str, procs: Processes) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    statuses = list(Generation.objects.values_list("status", "last_error"))
    raise AssertionError(f"timed out waiting for {what}: {statuses}\n{procs.output()}")


def start_batch(team: Team, author: User, size: int = 3) -> list[int]:
    request = generation_request_create(
        team=team,
        author=author,
        prompt="crash test @Image1",
        parameters={"size": "2K"},
        references=[],
        batch_size=size,
        schema=get_schema(model=settings.OXEN_MODEL),
        model="bytedance-seedream-4-5",
    )
    return list(request.generations.values_list("pk", flat=True))


def all_terminal() -> bool:
    return not Generation.objects.exclude(status__in=["succeeded", "failed", "cancelled"]).exists()


def assert_settled_without_duplicates(sim: Simulator, ids: list[int], media: Path) -> None:
    rows = list(Generation.objects.filter(pk__in=ids))
    assert [g.status for g in rows] == ["succeeded"] * len(ids), (
        [(g.status, g.last_error, g.target_directory, g.transitions) for g in rows],
        [(g["target_directory"], g["status"]) for g in sim.generations()],
        sim.counters(),
    )
    assert sim.counters()[QUEUE_POST] == len(ids)
    assert sim.generations_created == len(ids)
    assert len({g.upstream_id for g in rows}) == len(ids)
    # No half-written file: everything outside the scratch folder is complete and matches its
    # recorded hash, and nothing is left under a temporary name.
    stored = [p for p in media.rglob("*") if p.is_file() and ".scratch" not in p.parts]
    assert not [p for p in stored if p.name.endswith(".part")]
    expected = {img.file.name: img.sha256 for img in GalleryImage.objects.all()}
    expected |= {t.file.name: t.sha256 for t in Thumbnail.objects.all()}
    for path in stored:
        name = str(path.relative_to(media))
        if name in expected:
            assert hashlib.sha256(path.read_bytes()).hexdigest() == expected[name], name
    assert set(expected) <= {str(p.relative_to(media)) for p in stored}


def test_worker_killed_during_submit(
    processes: Processes, slow_sim: Simulator, team: Team, member: User, media_storage: Path
) -> None:
    slow_sim.inject(QUEUE_POST, delay=3.0, times=3)
    processes.start("worker")
    processes.start("beat")
    ids = start_batch(team, member)
    wait_for(
        lambda: Generation.objects.filter(status="submitting").count() >= 2,
        30,
        "POSTs in flight",
        processes,
    )
    processes.kill("worker")
    processes.start("worker")
    wait_for(all_terminal, 90, "every generation to finish", processes)
    assert_settled_without_duplicates(slow_sim, ids, media_storage)


def test_worker_killed_during_tracking(
    processes: Processes, slow_sim: Simulator, team: Team, member: User, media_storage: Path
) -> None:
    processes.start("worker")
    processes.start("beat")
    ids = start_batch(team, member)
    wait_for(
        lambda: Generation.objects.filter(upstream_id__isnull=False).count() == 3,
        30,
        "all generations queued upstream",
        processes,
    )
    processes.kill("worker")
    time.sleep(3)  # they finish upstream while no worker is running
    processes.start("worker")
    wait_for(all_terminal, 90, "every generation to finish", processes)
    assert_settled_without_duplicates(slow_sim, ids, media_storage)


def test_worker_killed_during_ingest(
    processes: Processes, slow_sim: Simulator, team: Team, member: User, media_storage: Path
) -> None:
    slow_sim.inject(FILE_GET, delay=3.0, times=3)
    processes.start("worker")
    processes.start("beat")
    ids = start_batch(team, member)
    wait_for(
        lambda: Generation.objects.filter(status="downloading").exists(),
        60,
        "a download in progress",
        processes,
    )
    processes.kill("worker")
    processes.start("worker")
    wait_for(all_terminal, 90, "every generation to finish", processes)
    assert_settled_without_duplicates(slow_sim, ids, media_storage)


def test_lost_broker_messages_lose_no_generation(
    processes: Processes, slow_sim: Simulator, team: Team, member: User, media_storage: Path
) -> None:
    """Everything committed survives the broker forgetting its messages (a Redis restart
    without persistence): beat's sweep finds the rows and drives them again."""
    ids = start_batch(team, member)
    assert processes.queued() == 0  # no submit message reached this broker: all "lost"
    processes.start("worker")
    processes.start("beat")
    wait_for(all_terminal, 90, "every generation to finish", processes)
    assert_settled_without_duplicates(slow_sim, ids, media_storage)
