"""The gallery grid, detail, compare, favourites and bulk actions, through the test client."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gallery.accounts.models import User
from gallery.browse.access import generations_for
from gallery.browse.models import Favourite
from gallery.browse.selectors import Cursor, GalleryFilters, gallery_page
from gallery.generation.models import GalleryImage, Generation
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add, team_create
from tests.factories import make_item

pytestmark = pytest.mark.django_db
# Tables a gallery page reads for its items; the rest (session, user, memberships) is the
# fixed cost of any logged-in page.
GALLERY_TABLES = re.compile(r"gallery_(generation|galleryimage|thumbnail|favourite)\b")


def _ids(html: str) -> list[str]:
    return re.findall(r'id="tile-([0-9a-f-]{36})"', html)


@pytest.fixture
def other_team(make_user: Callable[..., User]) -> Team:
    return team_create(name="Elsewhere", owner=make_user("stranger"))


def test_grid_shows_every_state_newest_first(
    member_client: Client, team: Team, member: User
) -> None:
    now = timezone.now()
    done = make_item(team, member, prompt="done", created_at=now - timedelta(minutes=3))
    failed = make_item(
        team,
        member,
        prompt="failed",
        status="failed",
        error="Oxen said no.",
        created_at=now - timedelta(minutes=2),
    )
    running = make_item(
        team, member, prompt="running", status="processing", created_at=now - timedelta(minutes=1)
    )
    html = member_client.get("/").content.decode()
    assert _ids(html) == [str(running.public_id), str(failed.public_id), str(done.public_id)]
    assert "Oxen said no." in html and ">Retry<" in html and ">Cancel<" in html
    # Only the in-flight tile is marked for the page's live poll; no tile polls by itself.
    assert html.count("data-in-flight") == 1 and "hx-trigger" not in html.split('id="grid"')[1]
    # Thumbnails: content-hash URLs with intrinsic size, lazy loading, and the stored blurhash
    # (drawn by the page before the thumbnail arrives) with its average colour as a fallback.
    img = re.search(r"<img [^>]*>", html, re.S).group(0)
    # (signed, expiring URLs since issue 15: tests/gallery/test_perf_signed_media.py)
    assert re.search(
        r'src="/media/s/[0-9a-f-]{36}/[0-9a-f]{2}/[0-9a-f]{62}-\d+\.webp\?e=\d+&amp;s=[\w-]+"', img
    )
    assert 'width="64"' in img and 'height="64"' in img and 'loading="lazy"' in img
    assert 'data-blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj"' in img and 'data-colour="#' in img


def test_a_gallery_page_of_60_costs_at_most_3_queries_at_any_depth(
    member_client: Client, team: Team, member: User
) -> None:
    start = timezone.now() - timedelta(days=1)
    for i in range(150):
        make_item(team, member, prompt=f"item {i}", created_at=start + timedelta(seconds=i))
    membership = Membership.objects.get(user=member, team=team)
    page = gallery_page(membership)
    assert len(page.items) == 60 and page.next_cursor
    deep_cursor = Cursor.decode(
        gallery_page(membership, cursor=Cursor.decode(page.next_cursor)).next_cursor or ""
    )
    assert deep_cursor is not None

    # The selector alone: 2 queries (rows + thumbnails) at any depth.
    for cursor in (None, deep_cursor):
        with CaptureQueriesContext(connection) as selector_only:
            items = gallery_page(membership, cursor=cursor).items
            # Touch everything a tile renders: no lazy load may hide behind an attribute.
            for g in items:
                _ = (g.request.prompt, g.request.author.username, g.is_favourite, g.status)
                _ = [t.sha256 for t in g.image.thumbnails.all()]
        assert len(selector_only.captured_queries) <= 3

    # The whole page through the view, first and deep (infinite scroll), counted on the tables
    # the items come from.
    for url in ("/", f"/?cursor={page.next_cursor}"):
        with CaptureQueriesContext(connection) as view:
            response = member_client.get(url, HTTP_HX_REQUEST="true" if "cursor" in url else "")
        assert response.status_code == 200
        assert len(_ids(response.content.decode())) == 60
        item_queries = [q for q in view.captured_queries if GALLERY_TABLES.search(q["sql"])]
        assert len(item_queries) <= 3, [q["sql"][:120] for q in item_queries]


def test_keyset_pages_cover_everything_once_and_in_order(team: Team, member: User) -> None:
    same_moment = timezone.now() - timedelta(hours=1)
    ids = [make_item(team, member, created_at=same_moment).pk for _ in range(7)]
    membership = Membership.objects.get(user=member, team=team)
    seen: list[int] = []
    cursor = None
    while True:
        page = gallery_page(membership, cursor=cursor, size=3)
        seen += [g.pk for g in page.items]
        if not page.next_cursor:
            break
        cursor = Cursor.decode(page.next_cursor)
    assert seen == sorted(ids, reverse=True)


def test_infinite_scroll_answers_htmx_with_tiles_and_the_next_sentinel(
    member_client: Client, team: Team, member: User
) -> None:
    for i in range(65):
        make_item(team, member, prompt=f"n{i}")
    first = member_client.get("/").content.decode()
    link = re.search(r'hx-get="/\?cursor=([^"]+)"', first)
    assert link and "Load older items" in first
    more = member_client.get(f"/?cursor={link.group(1)}", HTTP_HX_REQUEST="true").content.decode()
    assert len(_ids(more)) == 5 and "<html" not in more and "Load older" not in more
    # Without JavaScript the same link is a full page.
    assert "<html" in member_client.get(f"/?cursor={link.group(1)}").content.decode()


def test_filters_narrow_the_grid(
    member_client: Client, team: Team, member: User, make_user: Callable[..., User]
) -> None:
    other = make_user("colleague")
    membership_add(team=team, user=other)
    now = timezone.now()
    mine = make_item(team, member, prompt="A lighthouse at dusk", parameters={"size": "4K"})
    theirs = make_item(team, other, prompt="A forest path", created_at=now - timedelta(days=10))
    failed = make_item(team, member, prompt="Broken", status="failed")
    Favourite.objects.create(user=member, image=theirs.image)

    def grid(query: str) -> list[str]:
        return _ids(member_client.get(f"/?{query}").content.decode())

    assert grid("author=colleague") == [str(theirs.public_id)]
    assert grid("status=failed") == [str(failed.public_id)]
    assert grid("size=4K") == [str(mine.public_id)]
    assert grid("favourites=on") == [str(theirs.public_id)]
    assert grid(f"date_to={(now - timedelta(days=5)).date()}") == [str(theirs.public_id)]
    assert grid("q=lighthouse") == [str(mine.public_id)]
    pending = make_item(team, member, prompt="Awaiting review", review_state="pending")
    assert grid("review=pending") == [str(pending.public_id)]
    assert grid("date_from=not-a-date") != []  # a malformed filter is ignored, not an error


def test_prompt_search_uses_full_text_search_on_postgresql(
    postgres: None, team: Team, member: User
) -> None:
    running = make_item(team, member, prompt="Two foxes running through deep snow")
    make_item(team, member, prompt="A quiet harbour")
    membership = Membership.objects.get(user=member, team=team)

    def found(text: str) -> list[int]:
        return [g.pk for g in gallery_page(membership, filters=GalleryFilters(q=text)).items]

    assert found("fox run") == [running.pk]  # stemming: foxes/fox, running/run
    assert found('"deep snow" -harbour') == [running.pk]  # websearch syntax
    assert found("harbour fox") == []


def test_review_policy_hides_other_peoples_pending_images(
    client: Client, team: Team, member: User, make_user: Callable[..., User]
) -> None:
    team.pending_visible_to_team = False
    team.save()
    viewer = make_user("looker")
    membership_add(team=team, user=viewer, role=Membership.Role.VIEWER)
    pending = make_item(team, member, prompt="pending one", review_state="pending")
    approved = make_item(team, member, prompt="approved one")
    client.force_login(viewer)
    assert _ids(client.get("/").content.decode()) == [str(approved.public_id)]
    assert client.get(f"/items/{pending.public_id}/").status_code == 404


def test_another_teams_ids_answer_404_everywhere(
    member_client: Client, team: Team, member: User, other_team: Team, media_storage: Path
) -> None:
    stranger = other_team.memberships.get().user
    theirs = make_item(other_team, stranger, files=True)
    image = theirs.image
    thumb = image.thumbnails.first()
    gets = [
        f"/items/{theirs.public_id}/",
        f"/items/{theirs.public_id}/tile/",
        f"/media/t/{image.public_id}/{thumb.sha256}-{thumb.width}.webp",
        f"/media/i/{image.public_id}/original/",
        f"/compare/?ids={theirs.public_id}&ids={make_item(team, member).public_id}",
        f"/generate/?remix={theirs.request.public_id}",
    ]
    for url in gets:
        assert member_client.get(url).status_code == 404, url
    posts = [
        f"/items/{theirs.public_id}/cancel/",
        f"/items/{theirs.public_id}/retry/",
        f"/images/{image.public_id}/favourite/",
        f"/images/{image.public_id}/use-as-reference/",
        f"/requests/{theirs.request.public_id}/rerun/",
    ]
    for url in posts:
        assert member_client.post(url).status_code == 404, url
    response = member_client.post("/bulk/", {"ids": [str(theirs.public_id)], "action": "delete"})
    assert response.status_code == 404
    assert Generation.objects.filter(pk=theirs.pk).exists()


def test_detail_shows_the_request_and_copy_commands_without_the_key(
    member_client: Client, team: Team, member: User, settings: Any
) -> None:
    settings.OXEN_API_KEY = "sk-very-secret-key-0123456789"
    older = make_item(team, member, prompt="older", created_at=timezone.now() - timedelta(hours=1))
    item = make_item(team, member, prompt='Say "hi" for $5 and `ls`')
    item.request.request_body = {
        "model": "bytedance-seedream-4-5",
        "prompt": 'Say "hi" for $5 and `ls`',
        "size": "2K",
        "num_generations": 1,
        "target_directory": f"seedream-gallery/{item.public_id}",
        "input_image": ["data:image/jpeg;base64,…(sha256=" + "a" * 64 + ", 100 bytes)"],
    }
    item.request.save()
    item.upstream_id = "upstream-123"
    item.save()
    html = member_client.get(f"/items/{item.public_id}/").content.decode()
    assert "upstream-123" in html and "Copy as cURL" in html and "Copy as Python" in html
    assert "$OXEN_API_KEY" in html and "sk-very-secret" not in html
    assert f'href="/items/{older.public_id}/" data-key="ArrowRight"' in html
    assert "target_directory" not in html  # the gallery's own tag is left out
    # The prompt survives the shell: $ and ` are escaped inside the heredoc.
    assert r"Say \&quot;hi\&quot; for \$5 and \`ls\`" in html or r"\$5 and \`ls\`" in html
    assert "base64 &lt; image1.jpg" in html
    assert "data_uri(&#x27;image1.jpg&#x27;, &#x27;image/jpeg&#x27;)" in html
    for url in (
        "/",
        "/generate/",
        "/team/",
        f"/compare/?ids={item.public_id}&ids={older.public_id}",
    ):
        assert "sk-very-secret" not in member_client.get(url).content.decode()


def test_compare_highlights_what_differs(member_client: Client, team: Team, member: User) -> None:
    a = make_item(team, member, prompt="same prompt", parameters={"size": "2K", "watermark": False})
    b = make_item(team, member, prompt="same prompt", parameters={"size": "4K", "watermark": False})
    html = member_client.get(f"/compare/?ids={a.public_id}&ids={b.public_id}").content.decode()
    assert re.search(r'compare-row differs">\s*<div class="compare-label">Size', html)
    assert re.search(r'compare-row">\s*<div class="compare-label">Prompt', html)
    assert re.search(r'compare-row">\s*<div class="compare-label">Watermark', html)
    one = member_client.get(f"/compare/?ids={a.public_id}")
    assert one.status_code == 302  # two to four


def test_favourite_sets_and_unsets(member_client: Client, team: Team, member: User) -> None:
    item = make_item(team, member)
    url = f"/images/{item.image.public_id}/favourite/"
    response = member_client.post(url, {"on": "1"}, HTTP_HX_REQUEST="true")
    assert 'aria-pressed="true"' in response.content.decode()
    member_client.post(url, {"on": "1"})  # twice is still once
    assert Favourite.objects.filter(user=member).count() == 1
    member_client.post(url, {"on": "0"})
    assert not Favourite.objects.exists()
    assert member_client.get(url).status_code == 405  # GET never changes anything


def test_bulk_download_zips_the_originals(
    member_client: Client, team: Team, member: User, media_storage: Path
) -> None:
    items = [make_item(team, member, prompt=f"z{i}", files=True) for i in range(3)]
    failed = make_item(team, member, status="failed")
    response = member_client.post(
        "/bulk/", {"action": "download", "ids": [str(g.public_id) for g in [*items, failed]]}
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert len(archive.namelist()) == 3
    assert all(name.endswith(".jpg") for name in archive.namelist())


def test_bulk_delete_removes_items_and_their_files(
    member_client: Client,
    team: Team,
    member: User,
    media_storage: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    keep = make_item(team, member, prompt="keep", files=True)
    gone = make_item(team, member, prompt="gone", files=True)
    names = [gone.image.file.name, *[t.file.name for t in gone.image.thumbnails.all()]]
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post("/bulk/", {"action": "delete", "ids": [str(gone.public_id)]})
    assert response.status_code == 302
    assert list(Generation.objects.values_list("pk", flat=True)) == [keep.pk]
    assert not any((media_storage / name).exists() for name in names)
    assert (media_storage / keep.image.file.name).exists()


def test_members_delete_only_their_own_and_viewers_nothing(
    client: Client, team: Team, member: User, make_user: Callable[..., User]
) -> None:
    other = make_user("other")
    membership_add(team=team, user=other)
    theirs = make_item(team, other)
    client.force_login(member)
    client.post("/bulk/", {"action": "delete", "ids": [str(theirs.public_id)]})
    assert Generation.objects.filter(pk=theirs.pk).exists()
    viewer = make_user("viewer")
    membership_add(team=team, user=viewer, role=Membership.Role.VIEWER)
    client.force_login(viewer)
    assert (
        client.post("/bulk/", {"action": "delete", "ids": [str(theirs.public_id)]}).status_code
        == 404
    )
    assert Generation.objects.filter(pk=theirs.pk).exists()


def test_bulk_compare_redirects_to_the_compare_page(
    member_client: Client, team: Team, member: User
) -> None:
    a, b = make_item(team, member), make_item(team, member)
    response = member_client.post(
        "/bulk/", {"action": "compare", "ids": [str(a.public_id), str(b.public_id)]}
    )
    assert response.status_code == 302 and response["Location"].startswith("/compare/?ids=")


def test_the_grid_is_the_home_page_and_needs_a_login(client: Client) -> None:
    assert client.get("/").status_code == 302


def test_rejected_images_stay_hidden_from_members(
    client: Client, team: Team, member: User, make_user: Callable[..., User]
) -> None:
    author = make_user("author")
    membership_add(team=team, user=author)
    rejected = make_item(team, author, review_state=GalleryImage.ReviewState.REJECTED)
    client.force_login(member)
    assert str(rejected.public_id) not in client.get("/").content.decode()
    client.force_login(author)
    assert str(rejected.public_id) in client.get("/").content.decode()


def test_a_deep_page_seeks_the_index_instead_of_scanning(team: Team, member: User) -> None:
    membership = Membership.objects.get(user=member, team=team)
    cursor = Cursor(timezone.now(), 10**6)
    rows = (
        generations_for(membership)
        .filter(created_at__lte=cursor.created_at)
        .order_by("-created_at", "-id")
    )
    if connection.vendor == "postgresql":
        # A handful of rows never makes PostgreSQL prefer an index on its own; with sequential
        # scans and sorts priced out, the plan shows whether the index can serve this query
        # (rows and order) at all. (Sorts too: once autovacuum has analyzed the emptied table
        # in a long suite, the estimate is one row, and a bitmap scan plus a sort of one row
        # was chosen although the index gives the order.)
        with connection.cursor() as sql:
            sql.execute("SET enable_seqscan = off")
            sql.execute("SET enable_sort = off")
            try:
                plan = rows.explain()
            finally:
                sql.execute("RESET enable_seqscan")
                sql.execute("RESET enable_sort")
        assert "generation_team_recent_idx" in plan
        assert "Sort" not in plan.split("->")[0]  # rows come out of the index in order
        return
    plan = rows.explain()
    assert "SEARCH gallery_generation USING INDEX generation_team_recent_idx" in plan
    assert "created_at<" in plan
