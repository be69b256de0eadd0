"""Issue 16's walk in a real browser: make a collection, add three images from the selection
bar, reorder them (by drag, then by the Up button), share the collection with proofing on,
open it logged out in a fresh browser, pick two and comment on one, then as the team see the
picks and the comment on the items and on the link, and download the picks as a zip of two
valid images. axe-core checks the new pages."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gallery.accounts.models import User
from gallery.collection.models import Collection
from gallery.generation.models import GalleryImage
from gallery.sharing.models import ProofingComment, ProofingPick, ShareLink
from gallery.team.models import Team
from tests.browser.conftest import ARTIFACTS, axe_violations, log_in, wait_until
from tests.factories import make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery"
ALL_LOADED = (
    "Array.from(document.querySelectorAll('#grid img'))"
    ".every(i => i.complete && i.naturalWidth > 0)"
)
COMMENT = "Could the sky be a touch warmer? <b>not bold</b>"


def _order(collection: Collection) -> list[int]:
    return list(collection.items.order_by("position", "id").values_list("image_id", flat=True))


def test_collect_reorder_share_with_proofing_pick_comment_and_download_the_picks(
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
    colours = [(200, 60, 40), (40, 160, 80), (50, 80, 200), (180, 180, 40)]
    images = [
        make_image(
            team,
            member,
            prompt=f"harbour {i}",
            state=GalleryImage.ReviewState.APPROVED,
            colour=colour,
        )
        for i, colour in enumerate(colours)
    ]
    axe: dict[str, list[dict[str, Any]]] = {}

    # 1. A new collection.
    log_in(page, live_server.url, "member", PASSWORD)
    page.click("nav >> text=Collections")
    page.fill("#id_name", "Acme spring")
    page.fill("#id_description", "Harbour shots for the spring campaign")
    page.click("button:has-text('Make collection')")
    page.wait_for_selector("h1:has-text('Acme spring')")
    collection = Collection.objects.get()

    # 2. Three images from the selection bar (the grid is newest first: harbour 3, 2, 1).
    page.goto(f"{live_server.url}/")
    boxes = page.locator(".tile input[form=bulk]")
    for n in range(3):
        boxes.nth(n).check(force=True)
    page.click(".bulkbar button:has-text('Add to collection')")
    page.wait_for_selector("#share-dialog[open] h1:has-text('Add 3 images to a collection')")
    axe["collection-add-dialog"] = axe_violations(page, "collection-add-dialog")
    page.check("#share-dialog label:has-text('Acme spring') input")
    page.click("#share-dialog button:has-text('Add')")
    page.wait_for_selector("#share-dialog [role=status]:has-text('Added 3 images')")
    chosen = [images[3], images[2], images[1]]
    assert _order(collection) == [image.pk for image in chosen]
    page.click("#share-dialog a:has-text('Open')")
    page.wait_for_selector(".collection-item")
    wait_until(page, ALL_LOADED)

    # 3. Reorder: drag the third tile in front of the first, then the keyboard way (Up).
    third = f"#item-{chosen[2].public_id}"
    first = f"#item-{chosen[0].public_id}"
    page.drag_and_drop(third, first, target_position={"x": 8, "y": 40})
    wait_until(page, "document.querySelector('#grid').hasAttribute('data-saved')")
    assert _order(collection) == [chosen[2].pk, chosen[0].pk, chosen[1].pk]
    page.locator(f"#item-{chosen[1].public_id} button[data-move='-1']").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    page.wait_for_selector(f"#item-{chosen[1].public_id}")
    expected = [chosen[2], chosen[1], chosen[0]]
    assert _order(collection) == [image.pk for image in expected]
    shown = page.eval_on_selector_all(
        "[data-collection-item]", "items => items.map(i => i.dataset.collectionItem)"
    )
    assert shown == [str(image.public_id) for image in expected]
    screenshot("collection-reordered")
    axe["collection"] = axe_violations(page, "collection")

    # 4. Share the collection, following it, with proofing on.
    page.click("button:has-text('Share collection')")
    page.wait_for_selector("#share-dialog[open] h1:has-text('Share the collection')")
    assert page.is_checked("input[name=collection_mode][value=follow]")
    page.check("#id_proofing")
    page.select_option("#id_expires_in_days", "7")
    page.fill("#id_note", "Acme")
    axe["collection-share-dialog"] = axe_violations(page, "collection-share-dialog")
    page.click("#share-dialog button:has-text('Create link')")
    page.wait_for_selector("#share-dialog h1:has-text('Link created')")
    url = page.input_value("#share-url")
    link = ShareLink.objects.get()
    assert link.proofing and link.follows_collection and link.collection_id == collection.pk

    # 5. A client, logged out, in a fresh browser: a name, two picks, one comment.
    visitor = second_page
    visitor.goto(url)
    assert visitor.locator(".shared-item").count() == 3
    visitor.fill("#proofing-name", "Robin from Acme")
    visitor.click("button:has-text('Start picking')")
    visitor.wait_for_selector("text=Picking as")
    axe["shared-proofing"] = axe_violations(visitor, "shared-proofing")
    for image in expected[:2]:
        visitor.click(f"#img-{image.public_id} button.pick")
        visitor.wait_for_selector(f"#img-{image.public_id} button.pick-on")
    visitor.fill(f"#comment-{expected[0].public_id}", COMMENT)
    visitor.click(f"#img-{expected[0].public_id} button:has-text('Send comment')")
    visitor.wait_for_selector(f"#img-{expected[0].public_id} .proofing-comment")
    assert (
        COMMENT in visitor.locator(f"#img-{expected[0].public_id} .proofing-comment").inner_text()
    )
    shots = ARTIFACTS / "test_collections_browser--visitor.png"
    visitor.screenshot(path=str(shots), full_page=True)
    assert ProofingPick.objects.count() == 2 and ProofingComment.objects.count() == 1

    # 6. The team sees them on the items and on the link.
    page.goto(f"{live_server.url}/items/{expected[0].generation.public_id}/")
    feedback = page.locator(".image-feedback")
    assert "Robin from Acme" in feedback.inner_text() and COMMENT in feedback.inner_text()
    page.goto(f"{live_server.url}/items/{expected[1].generation.public_id}/")
    assert "Picked by Robin from Acme" in page.locator(".image-feedback").inner_text()
    page.goto(f"{live_server.url}/links/{link.public_id}/")
    summary = page.locator(".link-feedback").inner_text()
    assert "Robin from Acme" in summary and "picked 2, commented 1" in summary
    assert COMMENT in summary
    screenshot("link-feedback")
    axe["link-feedback"] = axe_violations(page, "link-feedback")

    # 7. The picks as a zip: two valid images.
    with page.expect_download() as download_info:
        page.click("a:has-text('Download picked images')")
    archive = zipfile.ZipFile(Path(download_info.value.path()))
    names = archive.namelist()
    assert len(names) == 2
    assert {name.split("-seedream-")[1].split(".")[0] for name in names} == {
        str(image.public_id) for image in expected[:2]
    }
    for name in names:
        with Image.open(io.BytesIO(archive.read(name))) as decoded:
            decoded.load()
            assert decoded.size == (96, 64)

    page.goto(f"{live_server.url}/collections/")
    axe["collections"] = axe_violations(page, "collections")
    assert {name: found for name, found in axe.items() if found} == {}


def test_a_gallery_tile_dragged_onto_a_collection_is_added_to_it(
    page: Any,
    live_server: Any,
    screenshot: Any,
    team: Team,
    member: User,
    media_storage: Path,
    db_lock: Any,
) -> None:
    """Issue 16's "add by dragging tiles": the tray of the team's collections appears when a
    finished tile is dragged, and the drop adds that image and says so."""
    from gallery.collection import services as collection_services
    from gallery.team.models import Membership

    image = make_image(team, member, prompt="lighthouse", colour=(40, 90, 200))
    membership = Membership.objects.get(team=team, user=member)
    spring = collection_services.collection_create(membership=membership, name="Spring")
    collection_services.collection_create(membership=membership, name="Autumn")

    log_in(page, live_server.url, "member", PASSWORD)
    page.goto(f"{live_server.url}/")
    source = page.locator(f"#tile-{image.generation.public_id} .tile-link img")
    source.wait_for()
    assert page.locator("[data-collection-tray]").is_hidden()
    _drag_to(page, source, "Spring", meanwhile=lambda: screenshot("collection-drag-tray"))
    page.wait_for_selector("[data-collection-drop-status]:has-text('Added 1 image to “Spring”.')")
    assert list(spring.items.values_list("image_id", flat=True)) == [image.pk]
    assert not Collection.objects.get(name="Autumn").items.exists()
    page.wait_for_selector("[data-collection-tray]", state="hidden")

    # A collection deleted by a teammate after the tray was drawn: the drop says so in words
    # (not the page's other status lines), and the next drag shows the collections there are.
    _drag_to(page, source, "Autumn", meanwhile=Collection.objects.filter(name="Autumn").delete)
    page.wait_for_selector("[data-collection-drop-status]:has-text('That collection is gone')")
    _drag_start(page, source)
    page.wait_for_selector("[data-collection-tray][data-loaded] li:has-text('Spring')")
    assert page.locator("[data-collection-tray] li:has-text('Autumn')").count() == 0
    page.mouse.up()


def _drag_start(page: Any, source: Any) -> None:
    box = source.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2 + 30, steps=4)


def _drag_to(page: Any, source: Any, name: str, *, meanwhile: Any) -> None:
    """Drag ``source`` onto the tray's collection ``name``; ``meanwhile`` runs once the tray
    shows it, before the drop."""
    _drag_start(page, source)
    target = page.locator(f"[data-collection-tray][data-loaded] li:has-text('{name}')")
    target.wait_for()
    meanwhile()
    spot = target.bounding_box()
    assert spot is not None
    page.mouse.move(spot["x"] + spot["width"] / 2, spot["y"] + spot["height"] / 2, steps=6)
    page.mouse.up()
