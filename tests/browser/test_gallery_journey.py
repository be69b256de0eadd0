"""The gallery in a real browser: generate with references, watch the progress, open the
detail, copy the request, remix, compare, download; and the generate form's error paths."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

import pytest
from django.core.signals import request_started

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

    # The form stays, as it was; the two tiles arrive in the strip below it and finish there.
    page.wait_for_url(f"{live_server.url}/generate/?last=*")
    assert page.input_value("#id_prompt") == "The fox from @Image1 in the snow of @Image2"
    wait_until(page, "document.querySelectorAll('#results .tile').length === 2")
    screenshot("progress")
    wait_until(
        page,
        "document.querySelectorAll('#results .tile img[src^=\"/media/s/\"]').length === 2",
        timeout=30_000,
    )
    page.click("nav >> text=Gallery")
    wait_until(page, ALL_LOADED)
    assert page.locator(".tile").count() == 2
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
        if environ and environ.get("PATH_INFO", "").startswith("/media/s/"):
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
