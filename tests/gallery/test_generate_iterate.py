"""Iterating in place: after Generate the form comes back as it was, with a results strip that
the page keeps live; "New image" starts blank. The reference limit's wording is the server's,
handed to the drop zone; the team library shows square thumbnails, searched and paged."""

from __future__ import annotations

import html as html_lib
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from gallery.accounts.models import User
from gallery.generation.models import GenerationRequest, Reference
from gallery.generation.selectors import LIBRARY_PAGE
from gallery.media.reference_thumbs import SIDE
from gallery.team.models import Team
from seedream.simulator import Simulator
from tests.conftest import png_bytes
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def _generate(client: Client, **extra: Any) -> Any:
    data = {"prompt": "a red kite over @Image1", "batch_size": "2", "p_size": "4K", **extra}
    return client.post("/generate/", data)


def test_after_generate_the_form_comes_back_as_it_was(
    member_client: Client,
    oxen_sim: Simulator,
    make_reference: Callable[..., Reference],
    django_capture_on_commit_callbacks: Any,
) -> None:
    ref = make_reference()
    with django_capture_on_commit_callbacks():
        response = _generate(member_client, reference=[str(ref.public_id)], p_watermark="on")
    made = GenerationRequest.objects.get()
    assert response["Location"] == f"/generate/?last={made.public_id}"
    page = member_client.get(response["Location"])
    html = page.content.decode()
    assert "a red kite over @Image1</textarea>" in html
    assert f'name="reference" value="{ref.public_id}" checked' in html
    assert re.search(r'<option value="4K" selected>', html)
    assert re.search(r'name="batch_size" value="2"[^>]*checked', html)
    assert re.search(r'name="p_watermark"[^>]*checked', html)
    assert "<h1>Generate</h1>" in html  # the same form again, not a remix of the last one
    assert 'name="remix_of" value=""' in html or 'name="remix_of" id' in html
    # The new tiles are in the strip, which polls for the rest.
    strip = html.split('id="results"')[1].split("</section>")[0]
    assert strip.count('class="tile ') == 2 and "data-live-new" in strip
    assert "data-in-flight" in strip
    # "New image" starts blank.
    assert (
        '<a class="btn" href="/generate/" title="Start again with an empty form">New image' in html
    )
    blank = member_client.get("/generate/").content.decode()
    assert "a red kite" not in blank.split('id="results"')[0]
    assert 'name="reference" value="' not in blank.split('id="ref-list"')[1].split("</ol>")[0]


def test_the_results_strip_holds_only_my_latest_items(
    member_client: Client,
    oxen_sim: Simulator,
    team: Team,
    member: User,
    make_user: Callable[..., User],
) -> None:
    from gallery.team.models import Membership
    from gallery.team.services import membership_add

    colleague = make_user("colleague")
    membership_add(team=team, user=colleague, role=Membership.Role.MEMBER)
    mine = [make_item(team, member, prompt=f"mine {i}") for i in range(10)]
    theirs = make_item(team, colleague, prompt="theirs")
    strip = member_client.get("/generate/").content.decode().split('id="results"')[1]
    ids = re.findall(r'id="tile-([0-9a-f-]{36})"', strip)
    assert ids == [str(g.public_id) for g in reversed(mine)][:8]
    assert str(theirs.public_id) not in strip
    assert 'data-live="/live/?author=member"' in strip


def test_the_drop_zone_and_the_server_say_too_many_in_the_same_words(
    member_client: Client, oxen_sim: Simulator, make_reference: Callable[..., Reference]
) -> None:
    page = member_client.get("/generate/").content.decode()
    template = html_lib.unescape(re.search(r'data-over-message="([^"]+)"', page).group(1))
    assert template == (
        "Seedream takes at most 14 reference images; you have {count}. Remove {extra}."
    )
    refs = [make_reference((i * 16, 30, 30)) for i in range(16)]
    response = member_client.post(
        "/generate/",
        {"prompt": "many", "batch_size": "1", "reference": [str(r.public_id) for r in refs]},
    )
    html = html_lib.unescape(response.content.decode())
    assert response.status_code == 422
    assert template.format(count=16, extra=2) in html
    # The page comes back with Generate disabled and pointing at the reason.
    assert re.search(r'data-generate-submit disabled aria-describedby="ref-count-note"', html)
    assert GenerationRequest.objects.count() == 0


def test_the_library_shows_square_thumbnails_never_originals(
    member_client: Client, oxen_sim: Simulator, team: Team, member: User, media_storage: Path
) -> None:
    from gallery.generation.references import reference_upload

    tall = reference_upload(
        team=team, user=member, upload=io.BytesIO(png_bytes((300, 900))), name="tall.png"
    )
    html = member_client.get("/generate/").content.decode()
    library = html.split('id="library-items"')[1]
    assert f'src="/media/r/{tall.public_id}/thumb/"' in library
    assert f'src="/media/r/{tall.public_id}/"' not in library
    response = member_client.get(f"/media/r/{tall.public_id}/thumb/")
    assert response["Content-Type"] == "image/webp"
    assert "immutable" in response["Cache-Control"]
    with Image.open(io.BytesIO(b"".join(response.streaming_content))) as thumb:
        assert thumb.size == (SIDE, SIDE)
    # Made once, then only read.
    again = member_client.get(f"/media/r/{tall.public_id}/thumb/")
    assert b"".join(again.streaming_content)[:4] == b"RIFF"


def test_the_library_is_searched_by_name_and_paged(
    member_client: Client, oxen_sim: Simulator, team: Team, member: User, media_storage: Path
) -> None:
    from gallery.generation.references import reference_upload

    for i in range(LIBRARY_PAGE + 3):
        reference_upload(
            team=team,
            user=member,
            upload=io.BytesIO(png_bytes((16, 16), (i * 9, 255 - i * 9, (i * 53) % 256))),
            name=f"{'fox' if i % 2 else 'owl'}-{i}.png",
        )
    first = member_client.get("/references/library/").content.decode()
    assert first.count("data-library-ref=") == LIBRARY_PAGE and "Older</a>" in first
    assert "<html" not in first
    second = member_client.get("/references/library/?library_page=2").content.decode()
    assert second.count("data-library-ref=") == 3 and "Newer</a>" in second
    foxes = member_client.get("/references/library/?library_q=fox").content.decode()
    assert foxes.count("data-library-ref=") == (LIBRARY_PAGE + 3) // 2
    assert "owl-" not in foxes
    none = member_client.get("/references/library/?library_q=zebra").content.decode()
    assert "No reference is named like “zebra”" in none
    # Without JavaScript the same search reloads the generate page with the library filtered.
    page = member_client.get("/generate/?library_q=owl").content.decode()
    assert "fox-" not in page.split('id="library-items"')[1].split("</aside>")[0]
