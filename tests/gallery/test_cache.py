"""The embedded default's file cache (``gallery.cache``): ``add`` and ``incr`` are atomic
across processes, as Redis's are. Django's own file cache reads then writes: two gunicorn
workers could both count 4 for a member's burst limit, or both "add" a once-only latch."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from gallery.cache import FileBasedCache

PROCESSES = 4


def _count(location: str, times: int) -> None:
    cache = FileBasedCache(location, {})
    for _ in range(times):
        cache.incr("count")


def _claim(location: str, results: Any) -> None:
    results.put(FileBasedCache(location, {}).add("latch", True, timeout=60))


def _run(target: Any, *args: Any) -> None:
    # forkserver: the test process has threads (pytest-xdist's), and fork() there may deadlock.
    context = multiprocessing.get_context("forkserver")
    processes = [context.Process(target=target, args=args) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0


def test_increments_from_several_processes_are_all_counted(tmp_path: Path) -> None:
    cache = FileBasedCache(str(tmp_path), {})
    cache.set("count", 0)
    _run(_count, str(tmp_path), 150)
    assert cache.get("count") == PROCESSES * 150


def test_only_one_of_several_processes_adds_a_key(tmp_path: Path) -> None:
    for round_ in range(5):
        location = tmp_path / str(round_)
        results = multiprocessing.get_context("forkserver").Queue()
        _run(_claim, str(location), results)
        claimed = [results.get(timeout=10) for _ in range(PROCESSES)]
        assert claimed.count(True) == 1, claimed


def test_the_lock_file_is_not_a_cache_entry(tmp_path: Path) -> None:
    cache = FileBasedCache(str(tmp_path), {})
    cache.add("a", 1)
    cache.set("b", 2)
    assert len(cache._list_cache_files()) == 2
    cache.clear()
    assert cache.get("a") is None and not cache._list_cache_files()
    assert cache.add("a", 3) and cache.incr("a") == 4
