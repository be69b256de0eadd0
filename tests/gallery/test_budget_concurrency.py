"""The budget holds under a crowd (issue 11): 200 generate POSTs at once against a team budget
that allows 10 images create and send exactly 10, on PostgreSQL and on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from seedream.simulator import Simulator
from tests.gallery.budget_race import ALLOWED_IMAGES, POSTS, RaceOutcome, race

ROOT = Path(__file__).resolve().parents[2]


def _assert_exactly_the_budget(outcome: RaceOutcome) -> None:
    assert outcome.other == []
    assert outcome.created == ALLOWED_IMAGES
    assert outcome.refused_with_budget_message == POSTS - ALLOWED_IMAGES
    assert outcome.generations == ALLOWED_IMAGES
    assert outcome.submits_queued == ALLOWED_IMAGES
    assert Decimal(outcome.reserved_after_race) == Decimal("0.04") * ALLOWED_IMAGES
    # Sent to Oxen (the simulator's own count) and made: exactly the budget's worth.
    assert outcome.sent_to_oxen == ALLOWED_IMAGES
    assert outcome.succeeded == ALLOWED_IMAGES
    # Trued up: nothing left reserved, and the ledger sums to what was charged.
    assert outcome.held_after_end == 0
    assert Decimal(outcome.ledger_total) == Decimal(outcome.charged_total) == Decimal("0.40")


@pytest.mark.django_db(transaction=True)
def test_200_concurrent_posts_create_and_send_exactly_the_budget_on_postgresql(
    postgres: None, oxen_sim: Simulator, settings: Any
) -> None:
    settings.GENERATE_BURST_PER_MINUTE = 0  # the budget, not the burst limit, is under test
    _assert_exactly_the_budget(race(oxen_sim))


def test_200_concurrent_posts_create_and_send_exactly_the_budget_on_sqlite(
    tmp_path: Path,
) -> None:
    """The same race in a process of its own, on a SQLite file set up as ``bin/run`` sets it
    up: IMMEDIATE transactions serialise the check, and nobody sees "database is locked"."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.gallery.budget_race", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = RaceOutcome(**json.loads(done.stdout.strip().splitlines()[-1]))
    _assert_exactly_the_budget(outcome)
