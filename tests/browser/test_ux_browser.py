"""Issue 10 in a real browser: share from anywhere, iterate in place, live pages, the reference
limit, viewing, review on the item, the small fixes, keyboard-only use, and axe-core on every
page. Screenshots go to test-artifacts/screenshots/, axe results to test-artifacts/axe/."""

from __future__ import annotations

import hashlib
import html
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gallery.accounts.models import User
from gallery.generation import views as generation_views
from gallery.generation.models import GalleryImage, Generation, GenerationRequest
from gallery.review import services as review_services
from gallery.sharing import services as sharing_services
from gallery.sharing.models import ShareLink
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add
from tests.browser.conftest import ARTIFACTS, axe_violations, log_in, tab_to, wait_until
from tests.conftest import png_bytes
from tests.factories import make_image, make_item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery"
State = GalleryImage.ReviewState
ALL_LOADED = (
    "Array.from(document.querySelectorAll('#grid .tile img'))"
    ".every(i => i.complete && i.naturalWidth > 0)"
)


def _payload(name: str, colour: tuple[int, int, int]) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/png", "buffer": png_bytes((40, 30), colour)}


def _files(count: int) -> list[dict[str, Any]]:
    return [_payload(f"r{i}.png", (i * 11 % 256, 40 + i * 7, 255 - i * 9)) for i in range(count)]


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# -- share from anywhere -------------------------------------------------------------------------


def test_select_three_share_copy_open_edit_copy_again_revoke(
    page: Any,
    second_page: Any,
    live_server: Any,
    screenshot: Any,
    team: Team,
    member: User,
    media_storage: Path,
    settings: Any,
    db_lock: Any,
) -> None:
    settings.SITE_URL = live_server.url
    for i in range(4):
        make_image(team, member, prompt=f"kite {i}", state=State.APPROVED, colour=(60 * i, 90, 200))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, live_server.url, "member", PASSWORD)
    boxes = page.locator(".tile input[form=bulk]")
    for n in range(3):
        boxes.nth(n).check(force=True)
    page.click(".bulkbar button:has-text('Share')")
    page.wait_for_selector("#share-dialog[open] h1:has-text('Share 3 images')")
    assert page.locator("#share-dialog .thumbs img").count() == 3
    assert page.input_value("#id_expires_in_days") == "30"  # the team's default
    page.select_option("#id_expires_in_days", "7")
    page.fill("#id_note", "For the kite client")
    screenshot("share-dialog")
    assert axe_violations(page, "share-dialog") == []
    page.click("#share-dialog button:has-text('Create link')")
    page.wait_for_selector("#share-dialog h1:has-text('Link created')")
    assert page.locator("#share-dialog svg.qr-code").is_visible()
    page.click("#share-dialog button[data-copy]")
    page.wait_for_selector("#share-dialog button[data-copied=true]")
    url = page.evaluate("navigator.clipboard.readText()")
    assert url.startswith(f"{live_server.url}/s/") and url == page.input_value("#share-url")
    screenshot("link-created-with-qr")

    second_page.goto(url)  # logged out
    assert second_page.locator(".shared-item").count() == 3
    _shot(second_page, "test_share_walk--visitor-opens")

    page.keyboard.press("Escape")
    page.goto(f"{live_server.url}/links/")
    row = page.locator(".link-row", has_text="For the kite client")
    assert row.locator(".num").first.inner_text() == "1"  # the visitor's view, counted
    row.locator("text=Copy / edit").click()
    page.wait_for_selector("#share-dialog[open] #link-panel")
    assert page.input_value("#share-url") == url  # shown again, the same address
    page.click("#share-dialog summary:has-text('Change expiry')")
    page.select_option("#share-dialog #id_expires_in_days", "1")
    page.click("#share-dialog button:has-text('Save changes')")
    page.wait_for_selector("#share-dialog .message-success:has-text('Saved')")
    link = ShareLink.objects.get()
    assert timedelta(hours=23) < link.expires_at - timezone.now() <= timedelta(days=1)
    page.evaluate("navigator.clipboard.writeText('')")
    page.click("#share-dialog button[data-copy]")
    page.wait_for_selector("#share-dialog button[data-copied=true]")
    assert page.evaluate("navigator.clipboard.readText()") == url  # copied again
    screenshot("link-edited")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#share-dialog button:has-text('Revoke link')")
    page.wait_for_selector(".link-row.link-revoked")
    screenshot("revoked")
    second_page.reload()
    assert second_page.locator("h1").inner_text() == "This link is no longer available"
    _shot(second_page, "test_share_walk--visitor-gone")


# -- iterate in place, live ----------------------------------------------------------------------


def test_generate_stays_on_the_form_tiles_arrive_live_and_a_teammate_sees_them(
    page: Any,
    second_page: Any,
    live_server: Any,
    screenshot: Any,
    team: Team,
    member: User,
    make_user: Any,
    pipeline_worker: None,
) -> None:
    colleague = make_user("colleague")
    membership_add(team=team, user=colleague, role=Membership.Role.MEMBER)
    log_in(second_page, live_server.url, colleague.username, PASSWORD)
    assert second_page.locator("#grid .tile").count() == 0  # opened before anything exists

    log_in(page, live_server.url, "member", PASSWORD)
    page.goto(f"{live_server.url}/generate/")
    page.set_input_files("#id_uploads", [_payload("fox.png", (200, 80, 30))])
    page.wait_for_selector("#ref-list .ref-chip")
    page.fill("#id_prompt", "The fox from @Image1, four ways")
    page.select_option("#id_p_size", "4K")
    page.click(".segmented label:has-text('4')")
    page.click("button:has-text('Generate')")

    page.wait_for_url(f"{live_server.url}/generate/?last=*")
    assert page.input_value("#id_prompt") == "The fox from @Image1, four ways"
    assert page.locator("#ref-list .ref-chip").count() == 1
    assert page.input_value("#id_p_size") == "4K"
    assert page.locator(".segmented input[value='4']").is_checked()
    wait_until(page, "document.querySelectorAll('#results .tile').length === 4")
    screenshot("results-strip-in-flight")
    wait_until(
        page,
        "document.querySelectorAll('#results .tile img[src^=\"/media/s/\"]').length === 4",
        timeout=30_000,
    )
    screenshot("results-strip-done")

    # The teammate's gallery, never reloaded, has them too.
    wait_until(
        second_page,
        "document.querySelectorAll('#grid .tile img[src^=\"/media/s/\"]').length === 4",
        timeout=30_000,
    )
    assert second_page.evaluate("performance.getEntriesByType('navigation').length") == 1
    _shot(second_page, "test_generate_live--teammate-gallery")

    # The simulator varies every image of a batch: four different pictures.
    hashes = set(GalleryImage.objects.values_list("sha256", flat=True))
    assert len(hashes) == 4
    ids = "&".join(f"ids={g}" for g in Generation.objects.values_list("public_id", flat=True))
    page.goto(f"{live_server.url}/compare/?{ids}")
    wait_until(
        page,
        "Array.from(document.querySelectorAll('.compare-images img'))"
        ".every(i => i.complete && i.naturalWidth > 0)",
    )
    screenshot("batch-of-four-differs")

    page.goto(f"{live_server.url}/generate/?last={GenerationRequest.objects.get().public_id}")
    page.click("a:has-text('New image')")
    page.wait_for_url(f"{live_server.url}/generate/")
    assert page.input_value("#id_prompt") == ""
    assert page.locator("#ref-list .ref-chip").count() == 0


def test_an_open_detail_page_and_gallery_update_without_reload(
    page: Any,
    live_server: Any,
    screenshot: Any,
    team: Team,
    member: User,
    make_user: Any,
    media_storage: Path,
    db_lock: Any,
) -> None:
    item = make_item(team, member, prompt="slow one", status="processing")
    log_in(page, live_server.url, "member", PASSWORD)
    page.goto(f"{live_server.url}/items/{item.public_id}/")
    assert "This page updates by itself" in page.inner_text(".preview-empty")
    with db_lock:
        Generation.objects.filter(pk=item.pk).update(
            status="failed", last_error="Oxen ran out of credit.", updated_at=timezone.now()
        )
    page.wait_for_selector(".detail-side .error-text:has-text('Oxen ran out of credit.')")
    screenshot("detail-updated-itself")

    page.goto(f"{live_server.url}/")
    colleague = make_user("colleague")
    membership_add(team=team, user=colleague, role=Membership.Role.MEMBER)
    with db_lock:
        new = make_item(team, colleague, prompt="a colleague's lighthouse", files=True)
    page.wait_for_selector(f"#tile-{new.public_id}", timeout=20_000)
    assert page.locator("#grid .tile").first.get_attribute("id") == f"tile-{new.public_id}"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    screenshot("gallery-new-item-arrived")


# -- references ----------------------------------------------------------------------------------


def test_fifteen_files_keep_fourteen_and_twenty_one_say_which_were_left_out(
    page: Any, live_server: Any, screenshot: Any, member: User, oxen_sim: Any, db_lock: Any
) -> None:
    log_in(page, live_server.url, "member", PASSWORD)
    page.goto(f"{live_server.url}/generate/")
    page.fill("#id_prompt", "many references")
    page.set_input_files("#id_uploads", _files(15))
    wait_until(page, "document.querySelectorAll('#ref-list .ref-chip').length === 14")
    page.wait_for_timeout(300)
    assert page.locator("#ref-list .ref-chip").count() == 14  # never all dropped, never 15
    message = page.inner_text("#ref-left-out")
    assert "only the first 14 of these 15 files were added. Left out: r14.png." in message
    assert page.is_disabled("button[data-generate-submit]")
    screenshot("fifteen-files")
    page.click("[data-ref-accept]")
    assert page.is_enabled("button[data-generate-submit]")

    page.goto(f"{live_server.url}/generate/")
    page.set_input_files("#id_uploads", _files(21))
    wait_until(page, "document.querySelectorAll('#ref-list .ref-chip').length === 14")
    message = page.inner_text("#ref-left-out")
    assert "first 14 of these 21 files" in message
    assert "Left out: r14.png, r15.png, r16.png, r17.png, r18.png, r19.png, r20.png." in message
    assert "Bad Request" not in page.content()
    screenshot("twenty-one-files")


def test_the_drop_zone_refuses_what_the_server_refuses_in_its_words_before_uploading(
    page: Any,
    live_server: Any,
    screenshot: Any,
    member: User,
    oxen_sim: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    db_lock: Any,
) -> None:
    """Issues 9 and 10 together: the drop zone checks each file as it is added against the
    limits the server applies (sides > 14 px, aspect within [1/16, 16], the upload cap, all
    read from the page), says the server's own sentence beside the references, and uploads
    only the files that pass."""
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    files = [
        _payload("fine.png", (10, 120, 200)),  # 40x30
        {"name": "tiny.png", "mimeType": "image/png", "buffer": png_bytes((14, 40))},
        {"name": "thin.png", "mimeType": "image/png", "buffer": png_bytes((340, 20))},
        {"name": "tall.png", "mimeType": "image/png", "buffer": png_bytes((16, 257))},
        {"name": "huge.png", "mimeType": "image/png", "buffer": os.urandom(1024 * 1024 + 1)},
        {"name": "edge.png", "mimeType": "image/png", "buffer": png_bytes((16, 256))},  # 1:16
    ]
    # What the server says for each refused file, posted straight to it.
    client = Client()
    client.force_login(member)
    answer = client.post(
        reverse("reference-upload"),
        {"uploads": [SimpleUploadedFile(f["name"], f["buffer"]) for f in files[1:5]]},
    )
    assert answer.status_code == 422
    expected = re.findall(r'<li class="field-error">(.*?)</li>', answer.content.decode())
    assert len(expected) == 4 and "tiny.png: This image is 14x40 px" in expected[0]
    assert expected[1].endswith(
        "(17:1); Seedream accepts aspect ratios from 1:16 to 16:1. Crop it and try again."
    )
    assert "(1:16.1)" in expected[2] and expected[3] == "huge.png: this file is larger than 1 MB."
    # What reaches the server's upload check from the page: file names, per request.
    sent: list[list[str]] = []
    check = generation_views._uploads

    def spy(membership: Membership, uploads: list[Any]) -> Any:
        sent.append([upload.name for upload in uploads])
        return check(membership, uploads)

    monkeypatch.setattr(generation_views, "_uploads", spy)
    log_in(page, live_server.url, "member", PASSWORD)
    page.goto(f"{live_server.url}/generate/")
    page.set_input_files("#id_uploads", files)
    wait_until(page, "document.querySelectorAll('#ref-list .ref-chip').length === 2")
    notes = page.locator("#ref-errors li.field-error").all_inner_texts()
    assert notes == [html.unescape(text) for text in expected]
    assert sent == [["fine.png", "edge.png"]]  # the refused files never left the browser
    assert page.is_enabled("button[data-generate-submit]")
    screenshot("refused-before-upload")

    # Only refused files: nothing is sent at all, and the notes are this drop's.
    page.set_input_files("#id_uploads", [files[1]])
    wait_until(page, "document.querySelectorAll('#ref-errors li.field-error').length === 1")
    assert page.inner_text("#ref-errors li.field-error") == html.unescape(expected[0])
    page.wait_for_timeout(300)
    assert sent == [["fine.png", "edge.png"]]


def test_without_javascript_twenty_one_files_get_a_styled_page_not_a_bare_400(
    browser: Any, live_server: Any, member: User, oxen_sim: Any, db_lock: Any
) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 860}
    )
    page = context.new_page()
    try:
        log_in(page, live_server.url, "member", PASSWORD)
        page.goto(f"{live_server.url}/generate/")
        page.fill("#id_prompt", "twenty-one")
        page.set_input_files("#id_uploads", _files(21))
        page.click("button:has-text('Generate')")
        page.wait_for_selector(".error-page")
        text = page.inner_text(".error-page")
        assert "at most 20" in text and "at most 14 reference images" in text
        assert page.locator("header.topbar").is_visible()
        _shot(page, "test_no_js--twenty-one-files-400")
    finally:
        context.close()


# -- viewing -------------------------------------------------------------------------------------


def test_placeholders_density_hover_actions_and_the_lightbox(
    page: Any,
    live_server: Any,
    screenshot: Any,
    team: Team,
    member: User,
    media_storage: Path,
    db_lock: Any,
) -> None:
    items = [
        make_item(
            team,
            member,
            prompt=f"dune {i}",
            files=True,
            colour=(200, 120 + i * 20, 40),
            size=(640, 480),
            thumbnail_widths=(400,),
        )
        for i in range(3)
    ]
    held: list[Any] = []
    page.route("**/media/s/**", lambda route: held.append(route))
    log_in(page, live_server.url, "member", PASSWORD)
    wait_until(page, "document.querySelectorAll('#grid canvas.placeholder').length === 3")
    # Drawn from the blurhash, not a flat colour: the pixels vary.
    spread = page.evaluate(
        """() => { const c = document.querySelector('#grid canvas.placeholder');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let lo = 255, hi = 0; for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]);
        hi = Math.max(hi, d[i]); } return hi - lo; }"""
    )
    assert spread > 10
    screenshot("blurhash-before-thumbnails")
    for route in held:
        route.continue_()
    page.unroute("**/media/s/**")
    wait_until(page, ALL_LOADED)
    wait_until(page, "document.querySelectorAll('#grid canvas.placeholder-done').length === 3")

    page.click(".density label:has(input[value=l])")
    assert "grid-l" in page.get_attribute("#grid", "class")
    page.reload()
    assert "grid-l" in page.get_attribute("#grid", "class")  # remembered
    page.hover(f"#tile-{items[0].public_id}")
    hover = page.locator(f"#tile-{items[0].public_id} .tile-hover")
    page.wait_for_timeout(250)
    assert hover.evaluate("e => getComputedStyle(e).opacity") == "1"
    assert hover.locator("[aria-label='Share this image']").is_visible()
    screenshot("large-tiles-hover-actions")

    page.goto(f"{live_server.url}/items/{items[0].public_id}/")
    page.click(".preview-link")
    page.wait_for_selector("dialog.lightbox[open] .lightbox-image")
    wait_until(page, "document.querySelector('.lightbox-image').naturalWidth === 640")
    for _ in range(5):
        page.keyboard.press("+")
    assert "scale(3.05" in page.get_attribute(".lightbox-image", "style")  # 1.25 ** 5
    box = page.locator(".lightbox-stage").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 40)
    page.mouse.up()
    assert "translate(0px, 0px)" not in page.get_attribute(".lightbox-image", "style")
    screenshot("lightbox-zoomed")
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog.lightbox", state="hidden")
    assert page.evaluate("document.activeElement.classList.contains('preview-link')")


# -- review on the item --------------------------------------------------------------------------


def test_review_history_and_flag_on_the_item_and_the_approved_set_to_share(
    page: Any,
    second_page: Any,
    live_server: Any,
    screenshot: Any,
    team: Team,
    member: User,
    make_user: Any,
    media_storage: Path,
    db_lock: Any,
) -> None:
    reviewer = make_user("reviewer", is_staff=True, first_name="Rita")
    membership_add(team=team, user=reviewer, role=Membership.Role.MEMBER)
    image = make_image(team, member, prompt="a beach hut", state=State.PENDING)
    review_services.image_review(
        image=image, reviewer=reviewer, to_state=State.APPROVED, note="On brand."
    )
    log_in(page, live_server.url, "member", PASSWORD)
    page.goto(f"{live_server.url}/items/{image.generation.public_id}/")
    history = page.locator(".review-history")
    assert "Rita" in history.inner_text() and "On brand." in history.inner_text()
    page.click(".review-history summary:has-text('Flag for review')")
    page.fill(".review-history textarea[name=reason]", "The horizon is tilted.")
    page.click(".review-history button:has-text('Flag')")
    page.wait_for_selector(".review-history .decision-flag:has-text('The horizon is tilted.')")
    screenshot("detail-review-history-flagged")

    again = make_image(team, member, prompt="a lighthouse", state=State.PENDING)
    review_services.image_review(image=again, reviewer=reviewer, to_state=State.APPROVED)
    log_in(second_page, live_server.url, "reviewer", PASSWORD)
    second_page.goto(f"{live_server.url}/review/")
    second_page.wait_for_selector(".approved-set")
    second_page.click(".approved-set button:has-text('Share the ticked ones')")
    second_page.wait_for_selector("#share-dialog[open] h1:has-text('Share 1 image')")
    _shot(second_page, "test_review--approved-set-share-dialog")


# -- the small things ----------------------------------------------------------------------------


def test_drop_zone_focus_first_error_and_a_tall_shared_image_keeps_download_in_view(
    page: Any,
    second_page: Any,
    live_server: Any,
    screenshot: Any,
    team: Team,
    member: User,
    oxen_sim: Any,
    settings: Any,
    db_lock: Any,
) -> None:
    log_in(page, live_server.url, "member", PASSWORD)
    page.goto(f"{live_server.url}/generate/")
    tab_to(page, "#id_uploads")
    outline = page.evaluate("getComputedStyle(document.querySelector('.dropzone')).outlineStyle")
    assert outline == "solid"
    screenshot("dropzone-focused")
    page.click("button:has-text('Generate')")  # no prompt
    page.wait_for_selector(".field-error:has-text('Write a prompt')")
    assert page.evaluate("document.activeElement.id") == "id_prompt"

    settings.SITE_URL = live_server.url
    tall = make_item(
        team,
        member,
        prompt="a tall tower",
        files=True,
        size=(600, 1800),
        thumbnail_widths=(300, 600),
    )
    membership = Membership.objects.get(team=team, user=member)
    created = sharing_services.share_link_create(
        membership=membership, images=[tall.image], expires_in_days=7
    )
    second_page.set_viewport_size({"width": 1366, "height": 900})
    second_page.goto(created.url)
    wait_until(second_page, "document.querySelector('.shared-item img').naturalWidth > 0")
    button = second_page.locator(".shared-item >> text=Download").bounding_box()
    assert button["y"] + button["height"] <= 900
    second_page.screenshot(path=str(ARTIFACTS / "test_small--tall-shared-image.png"))


# -- keyboard only -------------------------------------------------------------------------------


def test_keyboard_only_generate_then_detail_then_share(
    page: Any,
    live_server: Any,
    screenshot: Any,
    member: User,
    settings: Any,
    pipeline_worker: None,
) -> None:
    settings.SITE_URL = live_server.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, live_server.url, "member", PASSWORD)
    tab_to(page, "nav a[href='/generate/']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/generate/")
    tab_to(page, "#id_prompt")
    page.keyboard.type("A paper boat on a puddle")
    tab_to(page, "button[data-generate-submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/generate/?last=*")
    wait_until(
        page,
        "document.querySelectorAll('#results .tile img[src^=\"/media/s/\"]').length === 1",
        timeout=30_000,
    )
    tab_to(page, "#results .tile-link")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/items/*/")
    tab_to(page, ".actions form[action='/links/new/'] button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#share-dialog[open]")
    assert page.evaluate("document.activeElement.closest('dialog') !== null")
    tab_to(page, "#share-dialog .share-form button.btn-primary[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#share-dialog h1:has-text('Link created')")
    assert page.evaluate("document.activeElement.matches('[data-copy]')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#share-dialog button[data-copied=true]")
    assert page.evaluate("navigator.clipboard.readText()").startswith(f"{live_server.url}/s/")
    screenshot("keyboard-only-shared")


# -- accessibility -------------------------------------------------------------------------------


def test_axe_finds_no_serious_or_critical_violation_on_any_page(
    page: Any,
    second_page: Any,
    live_server: Any,
    team: Team,
    member: User,
    make_user: Any,
    media_storage: Path,
    settings: Any,
    oxen_sim: Any,
    db_lock: Any,
) -> None:
    settings.SITE_URL = live_server.url
    reviewer = make_user("reviewer", is_staff=True)
    membership_add(team=team, user=reviewer, role=Membership.Role.ADMIN)
    images = [make_image(team, member, prompt=f"kite {i}", state=State.APPROVED) for i in range(2)]
    pending = make_image(team, member, prompt="waiting", state=State.PENDING)
    membership = Membership.objects.get(team=team, user=reviewer)
    link = sharing_services.share_link_create(
        membership=membership, images=images, expires_in_days=7, show_metadata=True
    )
    locked = sharing_services.share_link_create(
        membership=membership, images=images[:1], expires_in_days=7, password="kite-secret"
    )
    gone = sharing_services.share_link_create(
        membership=membership, images=images[:1], expires_in_days=7
    )
    sharing_services.share_link_revoke(link=gone.link, membership=membership)
    ids = "&".join(f"ids={i.generation.public_id}" for i in images)
    results: dict[str, list[dict[str, Any]]] = {}

    second_page.goto(f"{live_server.url}/accounts/login/")
    results["login"] = axe_violations(second_page, "login")
    for name, url in (
        ("shared", link.url),
        ("shared-password", locked.url),
        ("shared-410", gone.url),
        ("shared-404", f"{live_server.url}/s/no-such-token/"),
    ):
        second_page.goto(url)
        results[name] = axe_violations(second_page, name)

    log_in(page, live_server.url, "reviewer", PASSWORD)
    for name, path in (
        ("gallery", "/"),
        ("generate", "/generate/"),
        ("detail", f"/items/{images[0].generation.public_id}/"),
        ("compare", f"/compare/?{ids}"),
        ("team", "/team/"),
        ("team-settings", "/team/settings/"),
        ("links", "/links/"),
        ("link", f"/links/{link.link.public_id}/"),
        ("review", f"/review/{pending.public_id}/"),
        ("error-404", "/items/00000000-0000-0000-0000-000000000000/"),
    ):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        results[name] = axe_violations(page, name)
    page.goto(f"{live_server.url}/")
    page.locator(".tile input[form=bulk]").first.check(force=True)
    page.click(".bulkbar button:has-text('Share')")
    page.wait_for_selector("#share-dialog[open] form")
    results["share-dialog"] = axe_violations(page, "gallery-share-dialog")
    page.keyboard.press("Escape")
    page.goto(f"{live_server.url}/items/{images[0].generation.public_id}/")
    page.click(".preview-link")
    page.wait_for_selector("dialog.lightbox[open]")
    results["lightbox"] = axe_violations(page, "lightbox")
    assert {name: found for name, found in results.items() if found} == {}
    digest = hashlib.sha256(str(sorted(results)).encode()).hexdigest()[:8]
    (ARTIFACTS.parent / "axe" / "SUMMARY.txt").write_text(
        f"{len(results)} pages, 0 serious/critical violations ({digest}):\n"
        + "\n".join(sorted(results))
        + "\n"
    )
