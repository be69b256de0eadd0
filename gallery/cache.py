"""The embedded default's cache: Django's file-based cache, with ``add`` and ``incr`` made
atomic across processes.

Django's ``FileBasedCache`` implements both as a read then a write, so two processes (gunicorn's
workers, the Celery workers) can both "add" the same key, or both read 3 and write 4. The rate
limits (generate bursts, the API, link passwords, proofing, review flags) count with ``add``
then ``incr``; the proofing digest's once-per-burst marker and the ledger's "soon" latch rely on
``add`` alone. Here each of the two runs under an exclusive lock on one
lock file in the cache directory (``django.core.files.locks``: ``fcntl`` on POSIX, ``msvcrt``
on Windows); reads and plain writes stay lock-free (a write is a rename of a whole file). With
Redis configured the cache is Redis, whose ``SET NX`` and ``INCR`` are atomic already.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache.backends import filebased
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.files import locks

LOCK_NAME = "atomic.lock"


class FileBasedCache(filebased.FileBasedCache):
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        # Private in Django, absent from its stubs: the directory, made if it was deleted.
        self._createdir()  # type: ignore[attr-defined]
        directory: str = self._dir  # type: ignore[attr-defined]
        with open(os.path.join(directory, LOCK_NAME), "ab") as handle:
            locks.lock(handle, locks.LOCK_EX)
            try:
                yield
            finally:
                locks.unlock(handle)

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        with self._exclusive():
            return bool(super().add(key, value, timeout, version))

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        with self._exclusive():
            return int(super().incr(key, delta, version))
