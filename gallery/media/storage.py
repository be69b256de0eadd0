"""Writing media files so that a crash never leaves a half-written file under its final name.

Stored files have content-hash names, so a file that exists is already complete: saving it
again is a no-op. On local storage each file is written to a temporary name beside its target
and renamed into place (atomic on POSIX); S3-compatible stores make an object visible only once
its upload has finished.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages


def media_storage() -> Storage:
    return storages["default"]


def scratch_dir() -> str:
    """A folder for downloads in progress; on the media volume when media is local."""
    storage = media_storage()
    if isinstance(storage, FileSystemStorage):
        path = Path(storage.location) / ".scratch"
    else:
        path = Path(tempfile.gettempdir()) / "seedream-gallery"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def save_atomic(name: str, source: Path) -> str:
    """Store the file at ``source`` under ``name`` (unchanged if it exists) and return ``name``."""
    storage = media_storage()
    if storage.exists(name):
        return name
    if isinstance(storage, FileSystemStorage):
        with source.open("rb") as data:
            _write_local(storage, name, data.read)
        return name
    with source.open("rb") as data:
        return storage.save(name, File(data, name=name))


def save_bytes_atomic(name: str, data: bytes) -> str:
    storage = media_storage()
    if storage.exists(name):
        return name
    if isinstance(storage, FileSystemStorage):
        chunks = iter([data, b""])
        _write_local(storage, name, lambda _size=0: next(chunks))
        return name
    return storage.save(name, ContentFile(data, name=name))


def _write_local(storage: FileSystemStorage, name: str, read: object) -> None:
    target = Path(storage.path(name))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    try:
        with partial.open("wb") as out:
            while chunk := read(1024 * 1024):  # type: ignore[operator]
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if storage.file_permissions_mode is not None:
            os.chmod(partial, storage.file_permissions_mode)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
