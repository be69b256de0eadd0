"""Listing upstream generations for reconciliation (issue 9: "an upstream ledger"): every page
of ``/api/ai/generations`` and the queue filters, narrowed to our target directories and a time
window, as typed rows with status, result URL and cost."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from seedream.client import OxenClient
from seedream.errors import TransientError
from seedream.responses import GenerationDetail, parse_generation_page

HISTORY = "GET /api/ai/generations"


def submit(client: OxenClient, directory: str | None, count: int = 1) -> list[str]:
    queued = client.queue_submit(
        {"prompt": f"in {directory}"}, num_generations=count, target_directory=directory
    )
    return [q.generation_id for q in queued]


def settle(sim: Any, ids: list[str]) -> None:
    for generation_id in ids:
        sim.wait_for(generation_id)


def test_every_page_is_read_and_rows_are_kept_by_directory_prefix(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim()
    client = sim_client_factory(sim)
    ours = submit(client, "gallery/t1", 2) + submit(client, "gallery/t1/g7", 3)
    others = submit(client, "gallery/t10", 2) + submit(client, None)
    settle(sim, ours + others)

    rows = list(client.generations_iter(directory_prefix="gallery/t1", page_size=2))

    assert sorted(r.generation_id for r in rows) == sorted(ours)
    assert sim.counters()[HISTORY] == 4  # 8 rows, 2 per page
    for row in rows:
        assert isinstance(row, GenerationDetail)
        assert row.status == "succeeded" and row.cost == Decimal("0.04")
        assert row.target_directory in ("gallery/t1", "gallery/t1/g7")
        assert row.result_url and client.download_result(row.result_url).size > 0


def test_since_skips_older_rows_and_stops_at_the_first_older_page(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim()
    client = sim_client_factory(sim)
    old = submit(client, "gallery/t1", 4) + submit(client, "gallery/t1", 2)
    recent = submit(client, "gallery/t1", 2)
    settle(sim, old + recent)
    ten_days_ago = time.time() - 10 * 86400
    for n, generation_id in enumerate(old):  # backdated upstream, oldest first
        generation = sim.state.get(generation_id)
        generation.enqueued_at = ten_days_ago + n

    since = datetime.now(UTC) - timedelta(days=7)
    rows = list(client.generations_iter(since=since, page_size=2))

    assert sorted(r.generation_id for r in rows) == sorted(recent)
    assert sim.counters()[HISTORY] == 2  # page 2 ended before `since`: pages 3-4 unread


def test_failed_and_cancelled_rows_are_listed_with_no_charge(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim()
    client = sim_client_factory(sim)
    sim.script_outcomes("fail", error="Content policy")
    sim.script_outcomes("never")
    failed, stuck = submit(client, "gallery/t2", 2)
    sim.wait_for(failed)
    client.queue_cancel(stuck)

    rows = {r.generation_id: r for r in client.generations_iter(directory_prefix="gallery/t2")}

    assert rows[failed].status == "failed" and rows[failed].error_message == "Content policy"
    assert rows[stuck].status == "cancelled"
    assert rows[failed].cost == rows[stuck].cost == Decimal("0.00")
    only_failed = list(client.generations_iter(status="failed"))
    assert [r.generation_id for r in only_failed] == [failed]


def test_queue_rows_are_listed_active_by_default_or_per_status(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim()
    client = sim_client_factory(sim)
    sim.script_outcomes("never")
    [active] = submit(client, "gallery/t3")
    [done] = submit(client, "gallery/t3")
    [elsewhere] = submit(client, "other")
    settle(sim, [done, elsewhere])
    sim.wait_for(active, frozenset({"processing"}))

    assert [r.generation_id for r in client.queue_iter(directory_prefix="gallery")] == [active]
    rows = list(
        client.queue_iter(statuses=("processing", "succeeded"), directory_prefix="gallery/t3")
    )
    assert sorted(r.generation_id for r in rows) == sorted([active, done])
    assert sim.counters()["GET /api/ai/queue"] == 3


def test_listing_rides_out_sustained_rate_limits(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim()
    client = sim_client_factory(sim)
    ids = submit(client, "gallery/t4", 4) + submit(client, "gallery/t4", 3)
    settle(sim, ids)
    sim.set_scenarios(rate_limit_every=3, rate_limit_retry_after=0)

    rows = list(client.generations_iter(directory_prefix="gallery/t4", page_size=2))

    assert sorted(r.generation_id for r in rows) == sorted(ids)
    assert sim.counters()[HISTORY] > 4  # some pages were refused and asked again


def test_a_page_that_keeps_failing_raises_rather_than_ending_the_listing(
    make_sim: Callable[..., Any], sim_client_factory: Callable[..., OxenClient]
):
    sim = make_sim()
    client = sim_client_factory(sim)
    settle(sim, submit(client, "gallery/t5", 3))
    listing = client.generations_iter(page_size=2, retries=1)
    assert next(listing).target_directory == "gallery/t5"
    next(listing)
    sim.inject(HISTORY, status=503, times=None)

    with pytest.raises(TransientError):
        next(listing)


def test_a_history_page_without_pagination_fields_is_one_whole_page():
    row = {
        "generation_id": "g1",
        "model_name": "bytedance-seedream-4-5",
        "media_type": "image",
        "status": "succeeded",
        "enqueued_at": 1775091431,
        "cost": "0.04",
        "target_directory": "gallery/t1",
    }

    page = parse_generation_page({"generations": [row], "total_cost": "0.04"})

    assert (page.count, page.page_number, page.total_pages, page.total_entries) == (1, 1, 1, 1)
    assert page.total_cost == Decimal("0.04") and page.generations[0].cost == Decimal("0.04")
