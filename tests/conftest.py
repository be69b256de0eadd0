"""Fixtures shared by the whole suite: real services, users, teams and logged-in clients."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from gallery.accounts.models import User
from gallery.generation.models import GenerationRequest, Reference
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add, team_create
from seedream.simulator import Simulator, SimulatorConfig
from tests import services
from tests.factories import UserFactory


def pytest_report_header(config: pytest.Config) -> list[str]:
    database = os.environ.get("TEST_DATABASE_LABEL") or os.environ.get("DATABASE_URL", "SQLite")
    broker = os.environ.get("TEST_BROKER_LABEL") or (
        "Redis" if os.environ.get("REDIS_URL") else "filesystem"
    )
    return [f"database: {database}", f"broker: {broker}", f"CI: {services.in_ci()}"]


def missing_service(what: str) -> None:
    """Fail under CI=true, skip (with the reason shown in the summary) anywhere else."""
    if services.in_ci():
        pytest.fail(f"{what} is required under CI=true", pytrace=False)
    pytest.skip(f"{what} is not available")


@pytest.fixture(autouse=True)
def _unhashed_static_files(settings: object) -> None:
    """Tests render templates without running collectstatic, so skip the manifest lookup."""
    storages = dict(settings.STORAGES)  # type: ignore[attr-defined]
    storages["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = storages  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    """PBKDF2's 1.2 M rounds cost ~0.3 s per user made; tests only need a real hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_cache(settings: Any) -> None:
    """A fresh in-memory cache per test: rate-limit counters and heartbeats must not leak
    between tests or from one run to the next (the configured cache is Redis or files)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"test-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def mail_queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, list[str]]]:
    """Emails handed to the worker (``tasks.mail_send.delay``), recorded instead of queued;
    ``mail_deliver`` runs the task on them as the worker would."""
    from gallery import tasks

    queued: list[tuple[str, str, list[str]]] = []
    monkeypatch.setattr(tasks.mail_send, "delay", lambda *args: queued.append(args))
    return queued


def mail_deliver(queued: list[tuple[str, str, list[str]]]) -> None:
    from gallery import tasks

    while queued:
        tasks.mail_send.apply(args=queued.pop(0)).get()


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    if not services.redis_reachable(url):
        missing_service(f"Redis at {url}")
    return url


@pytest.fixture
def postgres(settings: object) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        missing_service("PostgreSQL (TEST_DATABASE_URL)")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not services.chromium_available():
        missing_service(f"Chromium at {services.CHROMIUM_PATH}")
    return services.CHROMIUM_PATH


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(
        username: str | None = None, *, password: str = "correct horse battery", **extra: object
    ) -> User:
        names = {"username": username} if username else {}
        return UserFactory(password=password, **names, **extra)

    return make


@pytest.fixture
def team(make_user: Callable[..., User]) -> Team:
    owner = make_user("owner")
    return team_create(name="Design", owner=owner)


@pytest.fixture
def member(team: Team, make_user: Callable[..., User]) -> User:
    user = make_user("member")
    membership_add(team=team, user=user, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def member_client(member: User) -> Client:
    client = Client()
    client.force_login(member)
    return client


# -- Oxen simulator and the pipeline -------------------------------------------------------------


@pytest.fixture
def media_storage(settings: Any, tmp_path: Path) -> Path:
    """Local media in a fresh folder for this test."""
    root = tmp_path / "media"
    storages = dict(settings.STORAGES)
    storages["default"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(root), "base_url": "/media/"},
    }
    settings.STORAGES = storages
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def oxen_sim(settings: Any, media_storage: Path) -> Iterator[Simulator]:
    """A local Oxen simulator over a real socket, with the app configured to use it."""
    config = SimulatorConfig(
        api_key="sim-test-key-0123456789",
        port=0,
        queue_latency=(0.05, 0.05),
        processing_latency=(0.2, 0.2),
        sync_latency=(0.05, 0.05),
        image_size="small",
        keepalive_interval=1.0,
    )
    with Simulator(config).start() as sim:
        settings.OXEN_API_KEY = sim.api_key
        settings.OXEN_BASE_URL = sim.base_url
        settings.OXEN_SIMULATOR = True
        from django.core.cache import cache

        from gallery.oxen import LISTENER_HEARTBEAT_KEY

        cache.delete(LISTENER_HEARTBEAT_KEY)
        yield sim


def png_bytes(
    size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 40, 40)
) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def make_reference(team: Team, member: User, media_storage: Path) -> Callable[..., Reference]:
    from gallery.generation.references import reference_upload

    def make(
        colour: tuple[int, int, int] = (200, 40, 40), size: tuple[int, int] = (64, 48)
    ) -> Reference:
        return reference_upload(
            team=team, user=member, upload=io.BytesIO(png_bytes(size, colour)), name="ref.png"
        )

    return make


def new_request(
    team: Team,
    author: User,
    *,
    references: Sequence[Reference] = (),
    batch: int = 1,
    prompt: str = "a lighthouse at dusk, @Image1",
    **parameters: Any,
) -> GenerationRequest:
    """A request made as the generate form makes it, against the configured model's schema."""
    from django.conf import settings

    from gallery.generation.create import generation_request_create
    from gallery.oxen import get_schema

    return generation_request_create(
        team=team,
        author=author,
        prompt=prompt,
        parameters={"size": "2K", **parameters},
        references=list(references),
        batch_size=batch,
        schema=get_schema(model=settings.OXEN_MODEL),
        model=settings.OXEN_MODEL,
    )


def ids(request: GenerationRequest) -> list[int]:
    """The request's generations, by index."""
    return list(request.generations.order_by("index").values_list("pk", flat=True))


def drive(generation_ids: list[int], *, timeout: float = 20.0) -> None:
    """Run the pipeline in this process the way the worker and beat would, until every
    generation is settled: each service's ``Next`` is followed as the tasks follow it (a
    countdown is a real wait here), and the sweep runs every few tenths of a second. Tests use
    it where Celery itself is not under test; the reliability tests run the real processes."""
    import heapq
    import itertools

    from gallery.generation import ingest, submit, track
    from gallery.generation.models import Generation

    services: dict[str, Callable[..., Any]] = {
        "submit": submit.generation_submit,
        "orphan": submit.generation_find_orphan,
        "ingest": ingest.generation_ingest,
    }
    due: list[tuple[float, int, str, int]] = []
    order = itertools.count()

    def later(kind: str, pk: int, seconds: float = 0.0) -> None:
        heapq.heappush(due, (time.monotonic() + seconds, next(order), kind, pk))

    # Each row starts where its status says a task would be waiting for it.
    for pk, status in Generation.objects.filter(pk__in=generation_ids).values_list("pk", "status"):
        if status in ("pending", "submitting"):
            later("submit", pk)
        elif status == "downloading":
            later("ingest", pk)
    deadline = time.monotonic() + timeout
    next_sweep = 0.0
    while time.monotonic() < deadline:
        while due and due[0][0] <= time.monotonic():
            _, _, kind, pk = heapq.heappop(due)
            outcome = services[kind](generation_id=pk)
            if outcome.ingest or outcome.submit or outcome.seconds is not None:
                step = "ingest" if outcome.ingest else "submit" if outcome.submit else kind
                later(step, pk, outcome.seconds or 0.0)
        if time.monotonic() >= next_sweep:
            Generation.objects.filter(
                pk__in=generation_ids, status__in=["queued", "processing"]
            ).update(next_check_at=timezone.now())
            result = track.generations_sweep()
            for pk in result.submit:
                later("submit", pk)
            for pk in result.orphans:
                later("orphan", pk)
            for pk in result.ingest:
                later("ingest", pk)
            next_sweep = time.monotonic() + 0.3
        pending = Generation.objects.filter(pk__in=generation_ids).exclude(
            status__in=Generation.TERMINAL
        )
        if not pending.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"not settled: {list(pending.values_list('status', 'last_error'))}")
