"""The embedded broker (gallery/broker.py): a worker only ever reads whole messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kombu import Connection

from gallery.broker import Transport

ROOT = Path(__file__).resolve().parents[2]


def connection(folder: Path) -> Connection:
    # kombu's default control folder is "control" in the working directory: keep it out of
    # the checkout (and out of the message folder the tests list).
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder.parent / f"{folder.name}-control"),
        "store_processed": False,
        "polling_interval": 0.01,
    }
    return Connection("filesystem://", transport=Transport, transport_options=options)


def test_a_message_appears_whole_under_its_final_name(tmp_path: Path) -> None:
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("q")
        queue.put({"row": 7})
        names = [p.name for p in tmp_path.iterdir()]
        assert len(names) == 1 and names[0].endswith(".q.msg")  # no partial file left
        assert queue.get(timeout=1).payload == {"row": 7}
        queue.close()


def test_a_damaged_message_file_is_skipped_not_fatal(tmp_path: Path) -> None:
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("q")
        (tmp_path / "0_damaged.q.msg").write_bytes(b"")  # what kombu#1551 leaves a worker
        queue.put({"row": 8})
        assert queue.get(timeout=1).payload == {"row": 8}
        assert not (tmp_path / "0_damaged.q.msg").exists()
        queue.close()


def test_two_folders_in_one_process_each_deliver(tmp_path: Path) -> None:
    """kombu's filesystem state is one per process: the second folder's queue was taken as
    bound, its exchange file never written, and its messages went nowhere."""
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        with connection(tmp_path / name) as conn:
            queue = conn.SimpleQueue("q")
            queue.put({"folder": name})
            assert queue.get(timeout=1).payload == {"folder": name}
            queue.close()


def test_the_embedded_mode_uses_it(tmp_path: Path) -> None:
    """Without REDIS_URL the Celery app's connection is this transport (a fresh process:
    the test run itself may be configured with Redis)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.pop("REDIS_URL", None)
    env.update(VAR_DIR=str(tmp_path), SECRET_KEY="broker-test-secret-key-0123456789-abcdefghij")
    code = (
        "import django; django.setup(); from gallery.celery import app; "
        "print(type(app.connection_for_write().transport).__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "gallery.settings"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "gallery.broker"
