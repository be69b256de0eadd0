"""Celery is configured for long upstream jobs on Redis (ENGINEERING-NOTES §3)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from gallery import tasks
from gallery.celery import app

GALLERY = Path(__file__).resolve().parents[2] / "gallery"


def test_messages_are_json_only() -> None:
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]


def test_workers_reserve_only_what_they_run() -> None:
    assert app.conf.worker_prefetch_multiplier == 1


def test_time_limits_are_below_the_visibility_timeout() -> None:
    visibility = settings.CELERY_VISIBILITY_TIMEOUT
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit < visibility
    assert app.conf.task_time_limit <= visibility / 2


def test_idempotent_tasks_survive_a_killed_worker() -> None:
    for task in (
        tasks.generation_submit,
        tasks.generation_find_orphan,
        tasks.generation_ingest,
        tasks.generation_cancel,
        tasks.generation_completed,
    ):
        assert task.acks_late, task.name
        assert task.reject_on_worker_lost, task.name


@pytest.mark.parametrize("visibility", [120, 600, 3600, 86400])
@pytest.mark.parametrize("asked", [0, 1, 30, 59, 60, 61, 1799, 1800, 3600, 10**6])
def test_capped_delay_stays_below_half_the_visibility_timeout(
    settings: Any, visibility: int, asked: float
) -> None:
    settings.CELERY_VISIBILITY_TIMEOUT = visibility
    delay = tasks.capped_delay(asked)
    assert 0 <= delay < visibility / 2
    assert delay == min(asked, delay)  # never longer than asked


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def test_every_countdown_in_the_code_goes_through_capped_delay() -> None:
    """A countdown or ETA at or above half the visibility timeout makes Redis run the task
    again and again. This scans every call in gallery/ so a new one cannot slip in."""
    found = 0
    for path in GALLERY.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for call in _calls(tree):
            name = getattr(call.func, "attr", getattr(call.func, "id", ""))
            keywords = {kw.arg: kw.value for kw in call.keywords}
            assert "eta" not in keywords, f"{path}: use a capped countdown, not eta"
            if name == "retry":
                pytest.fail(f"{path}:{call.lineno}: reschedule with apply_async and capped_delay")
            if "countdown" in keywords:
                found += 1
                value = keywords["countdown"]
                assert isinstance(value, ast.Call), f"{path}:{call.lineno}"
                assert getattr(value.func, "id", "") == "capped_delay", f"{path}:{call.lineno}"
    assert found >= 1


def test_periodic_tasks_expire_well_inside_the_visibility_timeout() -> None:
    """A beat message not run within its expiry is dropped, never redelivered: so a stopped
    worker does not come back to a pile, and none waits long enough to be delivered twice."""
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["options"]["expires"] < settings.CELERY_VISIBILITY_TIMEOUT / 2
        assert entry["options"]["expires"] <= entry["schedule"] * 5


def test_a_new_pool_process_builds_its_http_clients_before_its_first_task(settings: Any) -> None:
    """Each client costs 30-50 ms of CPU (its TLS context): a burst of completions would pay
    it on every pool process at once, in the first task (issue 15)."""
    from celery.signals import worker_process_init

    from gallery import oxen
    from seedream import pool

    settings.OXEN_API_KEY = "sim-test-key-0123456789"
    settings.OXEN_BASE_URL = "http://127.0.0.1:9"
    pool.close_shared_clients()
    config = oxen.client_config()
    assert not any(key[1] == config for key in pool._clients)

    worker_process_init.send(sender=None)

    assert {kind for kind, built in pool._clients if built == config} == {"api", "download"}
    pool.close_shared_clients()
