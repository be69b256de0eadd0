"""The campaigns' processes are the Procfile's (issue 15): a campaign that started one worker
serving every queue measured a deployment nobody runs."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.campaign import Fleet


def queues(fleet: Fleet, name: str) -> list[str]:
    argv = fleet.argv(name)
    return argv[argv.index("-Q") + 1].split(",")


def test_the_fleet_runs_the_procfile_s_workers_on_the_campaign_s_queue(tmp_path: Path) -> None:
    fleet = Fleet({"CELERY_QUEUE": "campaign-1"}, tmp_path)
    assert set(fleet.COMMANDS) == {"worker", "ingest", "beat", "listener"}
    assert queues(fleet, "worker") == ["campaign-1", "campaign-1-preview"]
    assert queues(fleet, "ingest") == ["campaign-1-ingest"]
    assert fleet.argv("listener") == ["manage.py", "oxen_listen"]
    assert fleet.argv("beat")[:3] == ["-m", "celery", "-A"]


def test_without_a_queue_name_the_fleet_uses_celery_s_and_options_can_change(
    tmp_path: Path,
) -> None:
    fleet = Fleet({}, tmp_path, options={"ingest": {"--concurrency": "1", "--pool": "threads"}})
    assert queues(fleet, "worker") == ["celery", "celery-preview"]
    ingest = fleet.argv("ingest")
    assert ingest[ingest.index("--concurrency") + 1] == "1"
    assert ingest[ingest.index("--pool") + 1] == "threads"
