"""Pages at speed (issue 15): the gallery view's query count, finished tiles' HTML from the
cache (and changed when anything on the tile changes), thumbnail URLs without reverse()."""

from __future__ import annotations

import re
from unittest.mock import patch

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gallery.accounts.models import User
from gallery.browse.models import Favourite
from gallery.browse.selectors import TileRow, gallery_grid_page, gallery_page
from gallery.collection import services as collection_services
from gallery.collection.models import Collection
from gallery.collection.selectors import collection_choices
from gallery.generation.models import GalleryImage, Generation
from gallery.media.models import Thumbnail
from gallery.team.models import Membership, Team
from gallery.templatetags.gallery_tags import item_image, thumbnail_url, tile_key
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def _stable(html: str) -> str:
    """A page without what changes on every request: nonces, CSRF tokens, the live stamp."""
    for pattern in (
        r'nonce="[^"]+"',
        r'data-live-since="[^"]+"',
        r'csrfmiddlewaretoken" value="[^"]+"',
        r'"X-CSRFToken": "[^"]+"',
    ):
        html = re.sub(pattern, "", html)
    return html


@pytest.fixture
def page_of_items(team: Team, member: User) -> list[Generation]:
    items = [make_item(team, member, thumbnail_widths=(400, 800)) for _ in range(60)]
    items.append(make_item(team, member, status="processing"))
    failed = make_item(team, member, status="failed", error="Oxen said no.")
    Generation.objects.filter(pk=failed.pk).update(upstream_status="succeeded")
    items.append(failed)
    return items


def test_the_gallery_view_costs_at_most_four_queries(
    member_client: Client, page_of_items: list[Generation]
) -> None:
    """Cold tiles (first view), cached tiles (second) and the infinite-scroll partial: the
    user, the memberships, the team's members (the author filter) and the page's rows with
    their renditions. The session comes from the cache when Redis is configured."""
    scroll = {"HTTP_HX_REQUEST": "true"}
    cursor = "/?cursor=9999999999.0_999999"
    session = 0 if settings.REDIS_URL else 1
    # The "in collection" filter's list is read once per team and kept in the cache until a
    # collection changes (test_the_collection_filter_list_follows_every_change).
    collection_choices(Membership.objects.get(user__username="member"))
    for url, headers in (("/", {}), ("/", {}), (cursor, scroll), (cursor, scroll)):
        with CaptureQueriesContext(connection) as view:
            response = member_client.get(url, **headers)
        assert response.status_code == 200
        assert b"Download failed" in response.content or "cursor" in url
        queries = [q["sql"][:90] for q in view.captured_queries]
        assert len(queries) <= 4 + session, queries
        assert len([q for q in queries if "django_session" not in q]) <= 4, queries


def test_the_collection_filter_list_follows_every_change(
    member_client: Client, team: Team, member: User
) -> None:
    """The cached list of the team's collections (the gallery's filter) is forgotten when a
    collection is made, renamed or deleted, from the app or the admin."""
    membership = Membership.objects.get(user=member, team=team)
    assert collection_choices(membership) == []
    made = collection_services.collection_create(membership=membership, name="Spring")
    assert collection_choices(membership) == [(str(made.public_id), "Spring")]
    Collection.objects.filter(pk=made.pk).first().save()  # an admin save, say
    made.name = "Spring campaign"
    made.save()
    assert "Spring campaign" in member_client.get("/").content.decode()
    made.delete()
    assert collection_choices(membership) == []


def test_sessions_live_in_the_cache_when_redis_is_configured() -> None:
    if settings.REDIS_URL:
        assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    else:
        assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


def test_a_cached_page_is_the_same_html_as_a_fresh_one(
    member_client: Client, page_of_items: list[Generation]
) -> None:
    cache.clear()
    fresh = member_client.get("/").content.decode()
    again = member_client.get("/").content.decode()
    assert _stable(fresh) == _stable(again)
    assert 'value="/"' in again  # the favourite form's "next": this page's own path
    token = member_client.cookies[settings.CSRF_COOKIE_NAME].value
    assert "@@tile" not in again and token  # every marker replaced


def test_a_tile_changes_when_what_it_shows_changes(
    member_client: Client, team: Team, member: User, page_of_items: list[Generation]
) -> None:
    cache.clear()
    target = page_of_items[59]  # the newest finished one: on the first page
    image = target.image
    before = member_client.get("/").content.decode()
    assert "fav-on" not in before
    Favourite.objects.create(user=member, image=image)
    assert member_client.get("/").content.decode().count("fav-on") == 1
    Membership.objects.filter(user=member, team=team).update(role=Membership.Role.VIEWER)
    viewer = member_client.get("/").content.decode()
    assert "Share this image" not in viewer
    GalleryImage.objects.filter(pk=image.pk).update(review_state="pending")
    Generation.objects.filter(pk=target.pk).update(last_error="changed")
    assert member_client.get("/").status_code == 200


def test_thumbnail_urls_are_the_ones_reverse_would_build(team: Team, member: User) -> None:
    generation = make_item(team, member, thumbnail_widths=(400, 800))
    membership = Membership.objects.get(user=member, team=team)
    [item] = gallery_page(membership).items
    for thumb in item.image.thumbnails.all():
        expected = reverse(
            "media-thumbnail",
            kwargs={
                "public_id": generation.image.public_id,
                "sha256": thumb.sha256,
                "width": thumb.width,
            },
        )
        assert thumbnail_url(item.image, thumb) == expected


def test_the_page_s_renditions_come_with_its_rows(team: Team, member: User) -> None:
    make_item(team, member, thumbnail_widths=(400, 800, 1600))
    membership = Membership.objects.select_related("user", "team").get(user=member, team=team)
    with CaptureQueriesContext(connection) as queries:
        [item] = gallery_page(membership).items
        widths = [t.width for t in item.image.thumbnails.all()]
    assert widths == [400, 800, 1600]
    assert len(queries.captured_queries) == 1


# -- the grid's rows as values (issue 15) --------------------------------------------------------


def _compare_generation(built: Generation, loaded: Generation) -> None:
    """What a tile reads, the same on a ``TileRow``'s instance as on ``gallery_page``'s."""
    for name in ("pk", "public_id", "status", "index", "team_id", "last_error", "created_at"):
        assert getattr(built, name) == getattr(loaded, name), name
    assert built.updated_at == loaded.updated_at
    assert built.result_billed == loaded.result_billed
    assert built.is_favourite == loaded.is_favourite  # type: ignore[attr-defined]
    assert built.request.public_id == loaded.request.public_id
    assert built.request.prompt == loaded.request.prompt
    assert built.request.parameters == loaded.request.parameters
    assert built.request.author.display_name == loaded.request.author.display_name
    built_image, loaded_image = item_image(built), item_image(loaded)
    if loaded_image is None:
        assert built_image is None
        return
    assert built_image is not None
    for name in ("pk", "public_id", "team_id", "width", "height", "placeholder", "review_state"):
        assert getattr(built_image, name) == getattr(loaded_image, name), name
    assert built_image.average_color == loaded_image.average_color
    assert list(built_image.thumbnails.all()) == list(loaded_image.thumbnails.all())


def test_a_grid_row_builds_the_tile_gallery_page_loads_without_a_query(
    team: Team, member: User, page_of_items: list[Generation]
) -> None:
    """Finished, in flight and failed (billed) rows: the instances a ``TileRow`` builds for a
    tile to render are those ``gallery_page`` loads, with no further query (nothing deferred
    is read), and their tile keys are the same (the live view and the grid share tiles)."""
    membership = Membership.objects.select_related("user", "team").get(user=member, team=team)
    Favourite.objects.create(user=member, image=page_of_items[58].image)
    loaded = gallery_page(membership).items
    rows = gallery_grid_page(membership)
    assert [row.public_id for row in rows.items] == [g.public_id for g in loaded]
    assert rows.next_cursor == gallery_page(membership).next_cursor
    with CaptureQueriesContext(connection) as queries:
        for row, generation in zip(rows.items, loaded, strict=True):
            assert tile_key(row, True) == tile_key(generation, True)
            assert tile_key(row, False) == tile_key(generation, False)
            _compare_generation(row.generation(), generation)
    assert queries.captured_queries == []


def test_a_cached_page_builds_instances_only_for_tiles_it_renders(
    member_client: Client, team: Team, member: User, page_of_items: list[Generation]
) -> None:
    """With every finished tile cached, only the in-flight tile is rendered (its instances
    built); a finished tile whose HTML left the cache is rendered from its full row again, the
    same HTML as before."""
    cache.clear()
    first = _stable(member_client.get("/").content.decode())
    built: list[str] = []
    original = TileRow.generation

    def spy(row: TileRow) -> Generation:
        built.append(row.status)
        return original(row)

    with patch.object(TileRow, "generation", spy):
        assert _stable(member_client.get("/").content.decode()) == first
        assert built == ["processing"]
        membership = Membership.objects.get(user=member, team=team)
        [forgotten] = [g for g in page_of_items if g.status == "failed"]
        key = tile_key(gallery_page(membership).items[0], True)
        assert (
            key is not None and forgotten.public_id == gallery_page(membership).items[0].public_id
        )
        cache.delete(key)
        built.clear()
        assert _stable(member_client.get("/").content.decode()) == first
        assert sorted(built) == ["failed", "processing"]


def test_a_change_to_an_item_changes_its_cached_tile(
    member_client: Client, team: Team, member: User, page_of_items: list[Generation]
) -> None:
    """Each thing a finished tile shows, changed after the tile was cached, is on the next page."""
    cache.clear()
    [failed] = [g for g in page_of_items if g.status == "failed"]
    target = page_of_items[59]
    member_client.get("/")  # every finished tile cached
    Generation.objects.filter(pk=failed.pk).update(
        last_error="A new reason.", updated_at=timezone.now()
    )
    assert "A new reason." in member_client.get("/").content.decode()
    Favourite.objects.create(user=member, image=target.image)
    assert member_client.get("/").content.decode().count("fav-on") == 1
    Thumbnail.objects.filter(image=target.image, width=800).update(sha256="f" * 64)
    assert "f" * 62 + "-800.webp" in member_client.get("/").content.decode()  # its URL
    Membership.objects.filter(user=member, team=team).update(role=Membership.Role.VIEWER)
    assert "Share this image" not in member_client.get("/").content.decode()
    Membership.objects.filter(user=member, team=team).update(role=Membership.Role.MEMBER)
    assert "Share this image" in member_client.get("/").content.decode()
    membership = Membership.objects.get(user=member, team=team)

    def key() -> str | None:
        [row] = [r for r in gallery_grid_page(membership).items if r.public_id == target.public_id]
        return tile_key(row, True)

    before = key()
    GalleryImage.objects.filter(pk=target.image.pk).update(review_state="pending")
    assert key() != before  # the author still sees it: a new tile, not the cached one
