"""The gallery in a real browser: generate with references, watch the progress, open the
detail, copy the request, remix, compare, download; and the generate form's error paths."""

from __future__ import annotations

import contextlib
import io
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signals import request_started
from django.db import OperationalError, connection
from django.utils import timezone

from gallery.accounts.models import User
from gallery.generation.models import Generation
from gallery.team.models import Team
from tests.browser.conftest import log_in, wait_until
from tests.conftest import png_bytes
from tests.factories import make_item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery"
ALL_LOADED = (
    "Array.from(document.querySelectorAll('.tile img'))"
    ".every(i => i.complete && i.naturalWidth > 0)"
)


@pytest.fixture
def db_lock(live_server: Any) -> Iterator[threading.Lock | contextlib.nullcontext[None]]:
    """With in-memory SQLite the live server's threads share one connection, which is not
    safe to use concurrently (Chromium loads thumbnails in parallel). Serialize requests, and
    the pipeline worker, on one lock; with PostgreSQL nothing is serialized."""
    if connection.vendor != "sqlite":
        yield contextlib.nullcontext()
        return
    lock = threading.Lock()
    httpd = live_server.thread.httpd
    app = httpd.get_app()

    def serialized(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with lock:
            response = app(environ, start_response)
            try:
                return list(response)
            finally:
                close = getattr(response, "close", None)
                if close:
                    close()

    httpd.set_app(serialized)
    yield lock
    httpd.set_app(app)


@pytest.fixture
def pipeline_worker(settings: Any, oxen_sim: Any, db_lock: Any) -> Iterator[None]:
    """What the worker and beat do, in a background thread: submit, poll, ingest, every 0.2 s.
    Submissions are also run eagerly on commit, as a worker would pick them up at once."""
    from gallery.celery import app
    from gallery.generation import ingest, submit, track

    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    stop = threading.Event()
    failures: list[BaseException] = []

    def loop() -> None:
        from django.db import connection

        def step() -> None:
            Generation.objects.filter(status__in=["queued", "processing"]).update(
                next_check_at=timezone.now()
            )
            for pk in Generation.objects.filter(status="pending").values_list("pk", flat=True):
                submit.generation_submit(generation_id=pk)
            result = track.generations_sweep()
            for pk in result.orphans:
                submit.generation_find_orphan(generation_id=pk)
            for pk in result.ingest:
                ingest.generation_ingest(generation_id=pk)

        try:
            while not stop.is_set():
                # In-memory SQLite shared between threads locks whole tables; a real
                # worker's task would be retried, and so is this step.
                with db_lock, contextlib.suppress(OperationalError):
                    step()
                stop.wait(0.2)
        except BaseException as exc:  # surfaced at teardown
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, name="pipeline-worker", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)
    app.conf.task_always_eager = False
    assert not failures, failures


def _payload(name: str, colour: tuple[int, int, int]) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/png", "buffer": png_bytes((96, 72), colour)}


def test_generate_watch_open_copy_remix_compare_download(
    page: Any,
    live_server: Any,
    screenshot: Any,
    member: User,
    team: Team,
    pipeline_worker: None,
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, live_server.url, "member", PASSWORD)
    page.click("nav >> text=Generate")
    page.wait_for_selector("#id_prompt")
    screenshot("generate-empty")

    page.set_input_files(
        "#id_uploads", [_payload("fox.png", (200, 80, 30)), _payload("snow.png", (30, 60, 200))]
    )
    wait_until(page, "document.querySelectorAll('#ref-list .ref-chip').length === 2")
    page.fill("#id_prompt", "The fox from @Image1 in the snow of @Image2")
    page.click(".segmented label:has-text('2')")
    assert page.inner_text("[data-cost-total]") == "$0.08"
    screenshot("generate-filled")
    page.click("button:has-text('Generate')")

    page.wait_for_url(f"{live_server.url}/")
    assert page.locator(".tile").count() == 2
    screenshot("progress")
    # Both tiles turn into thumbnails without a reload.
    wait_until(
        page,
        "document.querySelectorAll('.tile img[src^=\"/media/t/\"]').length === 2",
        timeout=30_000,
    )
    assert page.locator(".tile-progress").count() == 0
    screenshot("gallery")

    page.locator(".tile-link").first.click()
    page.wait_for_selector(".preview img")
    assert "@Image1" in page.inner_text(".detail-side")
    screenshot("detail")
    page.click("button:has-text('Copy as cURL')")
    page.wait_for_selector("button[data-copied=true]")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("curl -sS -X POST ")
    assert "/api/ai/queue" in copied and "Bearer $OXEN_API_KEY" in copied
    assert "base64 < image1.png" in copied or "base64 < image1.jpg" in copied
    assert "The fox from @Image1 in the snow of @Image2" in copied

    with page.expect_download() as download_info:
        page.click("text=Download original")
    download = download_info.value
    assert download.suggested_filename.startswith("seedream-")
    assert download.suggested_filename.endswith((".jpg", ".png", ".webp"))

    page.click("text=Remix")
    page.wait_for_selector("#id_prompt")
    assert page.input_value("#id_prompt") == "The fox from @Image1 in the snow of @Image2"
    assert page.locator("#ref-list .ref-chip").count() == 2
    assert page.inner_text("h1") == "Remix"
    screenshot("remix")

    page.click("nav >> text=Gallery")
    boxes = page.locator(".tile input[form=bulk]")
    boxes.nth(0).check(force=True)
    boxes.nth(1).check(force=True)
    assert page.inner_text("[data-bulk-count]") == "2"
    with page.expect_download() as zip_info:
        page.click("button[value=download]")
    with zipfile.ZipFile(io.BytesIO(zip_info.value.path().read_bytes())) as archive:
        assert len(archive.namelist()) == 2
    page.click("button[value=compare]")
    page.wait_for_selector(".compare")
    assert page.locator(".compare-images img").count() == 2
    screenshot("compare")


def test_generate_errors_keep_everything_entered(
    page: Any,
    live_server: Any,
    screenshot: Any,
    member: User,
    team: Team,
    oxen_sim: Any,
    db_lock: Any,
) -> None:
    log_in(page, live_server.url, "member", PASSWORD)
    page.goto(f"{live_server.url}/generate/")

    # A file that is not an image: refused beside the field, in plain words.
    page.set_input_files(
        "#id_uploads",
        [
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"just some text"},
            _payload("ok.png", (10, 200, 10)),
        ],
    )
    page.wait_for_selector("#ref-errors li:has-text('notes.txt')")
    assert page.locator("#ref-list .ref-chip").count() == 1
    screenshot("non-image")

    # An empty prompt: the error is beside the prompt and the reference stays attached.
    page.fill("#id_prompt", "   ")
    page.click("button:has-text('Generate')")
    page.wait_for_selector(".field-error:has-text('Write a prompt')")
    assert page.locator("#ref-list .ref-chip").count() == 1
    screenshot("empty-prompt")

    # Too many references: 15 attached, refused with how many to remove; all 15 stay.
    page.set_input_files(
        "#id_uploads", [_payload(f"r{i}.png", (i * 16, 40, 255 - i * 16)) for i in range(14)]
    )
    wait_until(page, "document.querySelectorAll('#ref-list .ref-chip').length === 15")
    page.fill("#id_prompt", "fifteen references")
    page.click("button:has-text('Generate')")
    page.wait_for_selector("#ref-errors .field-error:has-text('at most 14')")
    assert "Remove 1" in page.inner_text("#ref-errors")
    assert page.locator("#ref-list .ref-chip").count() == 15
    assert page.input_value("#id_prompt") == "fifteen references"
    screenshot("too-many-references")
    assert Generation.objects.count() == 0


def test_repeat_visit_makes_no_thumbnail_requests(
    page: Any,
    live_server: Any,
    screenshot: Any,
    member: User,
    team: Team,
    media_storage: Any,
    db_lock: Any,
) -> None:
    for i in range(6):
        make_item(team, member, prompt=f"item {i}", files=True, colour=(40 * i, 90, 160))
    seen: list[str] = []

    def record(sender: Any, environ: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if environ and environ.get("PATH_INFO", "").startswith("/media/t/"):
            seen.append(environ["PATH_INFO"])

    request_started.connect(record)
    try:
        log_in(page, live_server.url, "member", PASSWORD)
        wait_until(page, ALL_LOADED)
        first_visit = len(seen)
        assert first_visit == 6
        page.click("nav >> text=Team")
        page.wait_for_selector("table.members")
        page.click("nav >> text=Gallery")
        wait_until(page, ALL_LOADED)
        time.sleep(0.3)
        assert len(seen) == first_visit, seen[first_visit:]
        screenshot("repeat-visit")
        page.set_viewport_size({"width": 390, "height": 844})
        page.locator(".tile").first.wait_for()
        screenshot("phone")
    finally:
        request_started.disconnect(record)
