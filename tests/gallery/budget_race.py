"""200 generate POSTs at once against a team budget that allows 10 images (issue 11).

``race`` runs in the calling process (the PostgreSQL test, under ``transaction=True``);
``python -m tests.gallery.budget_race <folder>`` runs the same race in a process of its own on
a fresh SQLite file in ``<folder>`` (WAL, IMMEDIATE transactions: as ``bin/run`` configures it)
and prints the outcome as JSON, for the SQLite test."""

from __future__ import annotations

import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

POSTS = 200
THREADS = 40  # each holds a database connection; PostgreSQL's default allows 100
ALLOWED_IMAGES = 10
QUEUE_POST = "POST /api/ai/queue"
BUDGET_MESSAGE = "monthly budget of $0.40"  # "Over the team's monthly budget of $0.40: …"


@dataclass
class RaceOutcome:
    created: int  # 302: generating
    refused_with_budget_message: int  # 422 naming the budget
    other: list[str]  # anything else: status and a snippet
    generations: int
    submits_queued: int
    reserved_after_race: str
    sent_to_oxen: int
    succeeded: int
    held_after_end: int
    ledger_total: str
    charged_total: str


def race(sim: Any, *, posts: int = POSTS, threads: int = THREADS) -> RaceOutcome:
    """Fire ``posts`` generate POSTs from ``threads`` threads released together, each by a
    member of a team whose monthly budget allows ``ALLOWED_IMAGES`` images at the simulator's
    price; then run the pipeline and report what was created, sent and reserved."""
    from django.db import connections
    from django.db.models import Sum
    from django.test import Client

    from gallery import tasks
    from gallery.budget.models import Reservation, TeamBudget
    from gallery.generation.models import Generation
    from gallery.oxen import get_schema
    from gallery.team.models import Membership
    from gallery.team.services import membership_add, team_create
    from tests.conftest import drive
    from tests.factories import UserFactory

    price = get_schema(model="bytedance-seedream-4-5").cost_per_image
    assert price is not None
    owner = UserFactory(username="race-owner")
    team = team_create(name="Racers", owner=owner)
    TeamBudget.objects.create(team=team, monthly_limit=price * ALLOWED_IMAGES)
    members = []
    for n in range(threads):
        user = UserFactory(username=f"racer{n}")
        membership_add(team=team, user=user, role=Membership.Role.MEMBER)
        members.append(user)

    queued: list[int] = []
    lock = threading.Lock()
    original_delay = tasks.generation_submit.delay

    def record(pk: int) -> None:  # what the worker would be handed: the test drives it below
        with lock:
            queued.append(pk)

    tasks.generation_submit.delay = record  # type: ignore[method-assign]
    start = threading.Barrier(threads)
    per_thread = [posts // threads + (1 if n < posts % threads else 0) for n in range(threads)]

    def fire(n: int) -> list[tuple[int, str]]:
        client = Client()
        client.force_login(members[n])
        answers = []
        try:
            start.wait()
            for i in range(per_thread[n]):
                response = client.post(
                    "/generate/",
                    {"prompt": f"racer {n} try {i}", "batch_size": "1", "p_size": "2K"},
                )
                answers.append((response.status_code, response.content.decode(errors="replace")))
        finally:
            connections.close_all()
        return answers

    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            answers = [a for batch in pool.map(fire, range(threads)) for a in batch]
    finally:
        tasks.generation_submit.delay = original_delay  # type: ignore[method-assign]

    created = sum(1 for status, _ in answers if status == 302)
    refused = sum(1 for status, body in answers if status == 422 and BUDGET_MESSAGE in body)
    other = [
        f"{status}: {body[:200]}"
        for status, body in answers
        if status != 302 and not (status == 422 and BUDGET_MESSAGE in body)
    ]
    team_rows = Generation.objects.filter(team=team)
    reserved = Reservation.objects.filter(team=team).aggregate(t=Sum("amount"))["t"]
    ids = list(team_rows.values_list("pk", flat=True))
    if ids:
        drive(ids, timeout=60)
    ledger = Reservation.objects.filter(team=team).aggregate(t=Sum("amount"))["t"]
    charged = team_rows.filter(status="succeeded").aggregate(t=Sum("cost"))["t"]
    return RaceOutcome(
        created=created,
        refused_with_budget_message=refused,
        other=other[:5],
        generations=team_rows.count(),
        submits_queued=len(queued),
        reserved_after_race=str(reserved or Decimal(0)),
        sent_to_oxen=sim.counters().get(QUEUE_POST, 0),
        succeeded=team_rows.filter(status="succeeded").count(),
        held_after_end=Reservation.objects.filter(team=team, state="held").count(),
        ledger_total=str(ledger or Decimal(0)),
        charged_total=str(charged or Decimal(0)),
    )


def main(folder: Path) -> None:
    """The race on a fresh SQLite file in ``folder`` (set up as a deployment sets it up)."""
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'db.sqlite3'}"
    os.environ["VAR_DIR"] = str(folder)
    os.environ["GENERATE_BURST_PER_MINUTE"] = "0"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("SECRET_KEY", "budget-race-only-secret-key-0123456789-abcdefghij")
    os.environ["DJANGO_SETTINGS_MODULE"] = "gallery.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from seedream.simulator import Simulator, SimulatorConfig

    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = ["*"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    config = SimulatorConfig(
        api_key="sim-race-key-0123456789",
        port=0,
        queue_latency=(0.05, 0.05),
        processing_latency=(0.2, 0.2),
        sync_latency=(0.05, 0.05),
        image_size="small",
        keepalive_interval=1.0,
    )
    storages = dict(settings.STORAGES)
    storages["default"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(folder / "media"), "base_url": "/media/"},
    }
    storages["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = storages
    with Simulator(config).start() as sim:
        settings.OXEN_API_KEY = sim.api_key
        settings.OXEN_BASE_URL = sim.base_url
        settings.OXEN_SIMULATOR = True
        outcome = race(sim)
    print(json.dumps(asdict(outcome)))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
