"""Collections (issue 16): made, filled from the selection bar and the detail page, ordered by
drag or the Up/Down buttons, paged like the gallery, filtered; viewers browse, members edit,
admins delete; another team's collection is a 404 on every route; query counts stay flat."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gallery.accounts.models import User
from gallery.collection import services as collection_services
from gallery.collection.models import Collection, CollectionItem
from gallery.collection.selectors import PositionCursor, collection_page
from gallery.generation.models import GalleryImage, Generation
from gallery.sharing.access import link_image
from gallery.sharing.models import ShareLink
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add, team_create
from tests.factories import make_item

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def membership(team: Team, member: User) -> Membership:
    return Membership.objects.select_related("team", "user").get(team=team, user=member)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def items(team: Team, author: User, count: int) -> list[Generation]:
    start = timezone.now() - timedelta(hours=1)
    return [
        make_item(team, author, prompt=f"item {i}", created_at=start + timedelta(seconds=i))
        for i in range(count)
    ]


def order(collection: Collection) -> list[int]:
    return list(
        CollectionItem.objects.filter(collection=collection)
        .order_by("position", "id")
        .values_list("image_id", flat=True)
    )


def tile_ids(html: str) -> list[str]:
    return re.findall(r'id="tile-([0-9a-f-]{36})"', html)


def test_selection_bar_adds_items_to_a_new_collection_in_the_order_chosen(
    member_client: Client, team: Team, member: User
) -> None:
    made = items(team, member, 3)
    chosen = [made[2], made[0], made[1]]
    dialog = member_client.post(
        "/collections/add/", {"ids": [g.public_id for g in chosen]}, **HTMX
    ).content.decode()
    assert "Add 3 images to a collection" in dialog and 'name="new_name"' in dialog
    response = member_client.post(
        "/collections/add/",
        {"add": "1", "images": [g.image.public_id for g in chosen], "new_name": "Client A"},
        **HTMX,
    )
    assert response.status_code == 200 and "Added 3 images to “Client A”." in response.text
    collection = Collection.objects.get(team=team)
    assert collection.name == "Client A" and collection.created_by == member
    assert order(collection) == [g.image.pk for g in chosen]
    page = member_client.get(reverse("collection", args=[collection.public_id]))
    assert tile_ids(page.text) == [str(g.public_id) for g in chosen]
    # Again, with one more: those already in stay where they are, the new one goes last.
    extra = make_item(team, member, prompt="one more")
    response = member_client.post(
        "/collections/add/",
        {
            "add": "1",
            "ids": [made[0].public_id, extra.public_id],
            "collection": collection.public_id,
        },
    )
    assert response.status_code == 302
    assert order(collection) == [*[g.image.pk for g in chosen], extra.image.pk]
    # Without JavaScript the selection bar's button goes to the same form.
    bulk = member_client.post("/bulk/", {"action": "collect", "ids": [made[0].public_id]})
    assert bulk.status_code == 302 and bulk["Location"].startswith("/collections/add/?ids=")


def test_the_detail_page_offers_add_to_collection_and_lists_its_collections(
    member_client: Client, team: Team, member: User, membership: Membership
) -> None:
    item = make_item(team, member)
    collection = collection_services.collection_create(membership=membership, name="Moodboard")
    html = member_client.get(reverse("gallery-detail", args=[item.public_id])).text
    assert "Add to collection" in html and "Moodboard" not in html
    member_client.post(
        "/collections/add/",
        {"add": "1", "images": [item.image.public_id], "collection": collection.public_id},
    )
    html = member_client.get(reverse("gallery-detail", args=[item.public_id])).text
    assert f'href="/collections/{collection.public_id}/">Moodboard</a>' in html


def test_unfinished_items_are_refused_in_words(
    member_client: Client, team: Team, member: User
) -> None:
    running = make_item(team, member, status="queued")
    response = member_client.get("/collections/add/", {"ids": [running.public_id]})
    assert "Only finished images can be collected" in response.text


def test_reorder_by_buttons_and_by_drop(
    member_client: Client, team: Team, member: User, membership: Membership
) -> None:
    made = items(team, member, 4)
    a, b, c, d = (g.image for g in made)
    collection = collection_services.collection_create(membership=membership, name="Order")
    collection_services.collection_add(
        membership=membership, collection=collection, images=[a, b, c, d]
    )
    url = reverse("collection-move", args=[collection.public_id])
    # The keyboard fallback: plain forms, back to the tile's anchor.
    response = member_client.post(
        url, {"image": c.public_id, "step": "-1", "anchor": f"item-{c.public_id}"}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"#item-{c.public_id}")
    assert order(collection) == [a.pk, c.pk, b.pk, d.pk]
    member_client.post(url, {"image": a.public_id, "step": "-1"})  # already first: stays
    assert order(collection) == [a.pk, c.pk, b.pk, d.pk]
    # A drop (the script): in front of another, or at the end; 204.
    response = member_client.post(
        url, {"image": d.public_id, "before": a.public_id}, HTTP_X_REQUESTED_WITH="fetch"
    )
    assert response.status_code == 204
    assert order(collection) == [d.pk, a.pk, c.pk, b.pk]
    member_client.post(url, {"image": d.public_id, "before": ""}, HTTP_X_REQUESTED_WITH="fetch")
    assert order(collection) == [a.pk, c.pk, b.pk, d.pk]
    assert list(collection.items.order_by("position").values_list("position", flat=True)) == [
        1,
        2,
        3,
        4,
    ]
    page = member_client.get(reverse("collection", args=[collection.public_id])).text
    assert tile_ids(page) == [str(made[i].public_id) for i in (0, 2, 1, 3)]
    assert 'data-reorder="' in page and "↑ Up" in page and 'draggable="true"' in page
    assert "js/collection.js" in page


def test_remove_cover_rename_and_the_list(
    member_client: Client, team: Team, member: User, membership: Membership
) -> None:
    a, b = (g.image for g in items(team, member, 2))
    collection = collection_services.collection_create(membership=membership, name="Set")
    collection_services.collection_add(membership=membership, collection=collection, images=[a, b])
    base = f"/collections/{collection.public_id}/"
    member_client.post(base + "cover/", {"image": b.public_id})
    collection.refresh_from_db()
    assert collection.cover == b
    listing = member_client.get("/collections/").text
    assert f"/links/thumbs/{b.public_id}/" in listing and "2 images" in listing
    member_client.post(base + "edit/", {"name": "Renamed", "description": "For the client"})
    collection.refresh_from_db()
    assert (collection.name, collection.description) == ("Renamed", "For the client")
    member_client.post(base + "remove/", {"images": [b.public_id]})
    collection.refresh_from_db()
    assert order(collection) == [a.pk] and collection.cover is None
    assert GalleryImage.objects.filter(pk=b.pk).exists()  # still in the gallery


def test_roles_viewers_browse_members_edit_admins_delete(
    team: Team, member: User, membership: Membership, make_user: Callable[..., User]
) -> None:
    image = make_item(team, member).image
    collection = collection_services.collection_create(membership=membership, name="Roles")
    collection_services.collection_add(membership=membership, collection=collection, images=[image])
    viewer = make_user("viewer")
    membership_add(team=team, user=viewer, role=Membership.Role.VIEWER)
    base = f"/collections/{collection.public_id}/"
    as_viewer = client_for(viewer)
    assert as_viewer.get(base).status_code == 200
    assert as_viewer.get("/collections/").status_code == 200
    assert "data-reorder" not in as_viewer.get(base).text
    for path, data in [
        ("move/", {"image": image.public_id, "step": "1"}),
        ("remove/", {"images": [image.public_id]}),
        ("edit/", {"name": "Mine now"}),
        ("cover/", {"image": image.public_id}),
        ("delete/", {}),
    ]:
        assert as_viewer.post(base + path, data).status_code == 404, path
    assert as_viewer.post("/collections/new/", {"name": "x"}).status_code == 404
    assert (
        as_viewer.post(
            "/collections/add/",
            {"add": "1", "images": [image.public_id], "collection": collection.public_id},
        ).status_code
        == 404
    )
    collection.refresh_from_db()
    assert collection.name == "Roles" and order(collection) == [image.pk]
    # A member edits but does not delete; the team's owner deletes.
    as_member = client_for(member)
    assert as_member.post(base + "delete/").status_code == 404
    assert as_member.post(base + "edit/", {"name": "Edited"}).status_code == 302
    owner = User.objects.get(username="owner")
    response = client_for(owner).post(base + "delete/")
    assert response.status_code == 302 and not Collection.objects.filter(pk=collection.pk).exists()
    assert GalleryImage.objects.filter(pk=image.pk).exists()


def test_another_teams_collection_is_a_404_on_every_route(
    member_client: Client, team: Team, member: User, make_user: Callable[..., User]
) -> None:
    stranger = make_user("stranger")
    other_team = team_create(name="Other", owner=stranger)
    other = Membership.objects.get(team=other_team, user=stranger)
    theirs = make_item(other_team, stranger, prompt="their secret").image
    foreign = collection_services.collection_create(membership=other, name="Theirs")
    collection_services.collection_add(membership=other, collection=foreign, images=[theirs])
    mine = make_item(team, member).image
    # The member is an owner elsewhere too: roles there do not reach here.
    base = f"/collections/{foreign.public_id}/"
    routes = {url.name for url in __import__("gallery.collection.urls", fromlist=["x"]).urlpatterns}
    checked = set()
    assert member_client.get(base).status_code == 404
    assert member_client.get(base + "?cursor=1_1", **HTMX).status_code == 404
    checked.add("collection")
    for name, data in [
        ("collection-edit", {"name": "Hijacked"}),
        ("collection-delete", {}),
        ("collection-remove", {"images": [mine.public_id]}),
        ("collection-move", {"image": mine.public_id, "step": "1"}),
        ("collection-cover", {"image": mine.public_id}),
    ]:
        response = member_client.post(reverse(name, args=[foreign.public_id]), data)
        assert response.status_code == 404, name
        checked.add(name)
    response = member_client.post(
        "/collections/add/",
        {"add": "1", "images": [mine.public_id], "collection": foreign.public_id},
    )
    assert response.status_code == 404
    checked.add("collection-add")
    # The share dialog, for a collection.
    assert member_client.get("/links/new/", {"collection": foreign.public_id}).status_code == 404
    assert (
        member_client.post(
            "/links/new/",
            {"create": "1", "collection": foreign.public_id, "expires_in_days": "7"},
        ).status_code
        == 404
    )
    # The routes without a collection id in them: the list and "new" show only the team's own.
    assert "Theirs" not in member_client.get("/collections/").text
    assert "Theirs" not in member_client.get("/collections/tray/").text
    checked |= {"collections", "collection-new", "collection-tray"}
    assert checked == routes
    # The gallery's filter offers only the team's collections: another's id is refused.
    response = member_client.get("/", {"collection": foreign.public_id})
    assert response.status_code == 400 and "their secret" not in response.text
    foreign.refresh_from_db()
    assert foreign.name == "Theirs" and order(foreign) == [theirs.pk]


def test_gallery_filter_in_collection(
    member_client: Client, team: Team, member: User, membership: Membership
) -> None:
    made = items(team, member, 3)
    collection = collection_services.collection_create(membership=membership, name="Picks")
    collection_services.collection_add(
        membership=membership, collection=collection, images=[made[0].image, made[2].image]
    )
    listing = member_client.get("/collections/").text
    assert f'href="/?collection={collection.public_id}"' in listing
    gallery = member_client.get("/").text  # the filter offers every collection of the team
    assert f'<option value="{collection.public_id}">Picks</option>' in gallery
    filtered = member_client.get("/", {"collection": collection.public_id}).text
    assert f'<option value="{collection.public_id}" selected>Picks</option>' in filtered
    assert tile_ids(filtered) == [str(made[2].public_id), str(made[0].public_id)]


def test_the_collection_page_takes_the_gallerys_filters(
    member_client: Client, team: Team, member: User, membership: Membership
) -> None:
    fox = make_item(team, member, prompt="a fox").image
    owl = make_item(team, member, prompt="an owl").image
    collection = collection_services.collection_create(membership=membership, name="Animals")
    collection_services.collection_add(
        membership=membership, collection=collection, images=[fox, owl]
    )
    html = member_client.get(f"/collections/{collection.public_id}/", {"q": "owl"}).text
    assert tile_ids(html) == [str(owl.generation.public_id)]
    assert "data-reorder" not in html  # reordering a filtered view would mislead


def test_keyset_pages_of_a_collection_cover_everything_once_in_order(
    team: Team, member: User, membership: Membership
) -> None:
    images = [g.image for g in items(team, member, 7)]
    collection = collection_services.collection_create(membership=membership, name="Pages")
    collection_services.collection_add(
        membership=membership, collection=collection, images=list(reversed(images))
    )
    seen: list[int] = []
    cursor = None
    while True:
        page = collection_page(membership, collection, cursor=cursor, size=3)
        seen += [g.image.pk for g in page.items]
        if not page.next_cursor:
            break
        cursor = PositionCursor.decode(page.next_cursor)
    assert seen == [image.pk for image in reversed(images)]


def test_infinite_scroll_on_a_collection_page(
    member_client: Client, team: Team, member: User, membership: Membership
) -> None:
    images = [g.image for g in items(team, member, 65)]
    collection = collection_services.collection_create(membership=membership, name="Big")
    collection_services.collection_add(membership=membership, collection=collection, images=images)
    base = f"/collections/{collection.public_id}/"
    first = member_client.get(base).text
    assert len(tile_ids(first)) == 60
    link = re.search(r'hx-get="' + re.escape(base) + r'\?cursor=([^"]+)"', first)
    assert link
    more = member_client.get(base, {"cursor": link.group(1)}, **HTMX).text
    assert len(tile_ids(more)) == 5 and "<html" not in more


ITEM_TABLES = re.compile(r'"gallery_(generation|galleryimage|thumbnail|collectionitem)"')


def _page_queries(client: Client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(tile_ids(response.text)), len(captured.captured_queries)


def test_collection_and_gallery_pages_keep_their_query_counts_flat(
    member_client: Client, team: Team, member: User, membership: Membership
) -> None:
    first = make_item(team, member).image
    collection = collection_services.collection_create(membership=membership, name="Flat")
    collection_services.collection_add(membership=membership, collection=collection, images=[first])
    pages = [
        f"/collections/{collection.public_id}/",
        f"/?collection={collection.public_id}",
        "/",
        "/collections/",
    ]
    one = [_page_queries(member_client, url) for url in pages]
    more = [g.image for g in items(team, member, 24)]
    collection_services.collection_add(membership=membership, collection=collection, images=more)
    many = [_page_queries(member_client, url) for url in pages]
    assert [tiles for tiles, _ in one][:3] == [1, 1, 1]
    assert [tiles for tiles, _ in many][:3] == [25, 25, 25]
    assert [queries for _, queries in many] == [queries for _, queries in one]
    # And deep: a later page of the collection costs what the first one does.
    images = [g.image for g in items(team, member, 70)]
    collection_services.collection_add(membership=membership, collection=collection, images=images)
    page = collection_page(membership, collection)
    with CaptureQueriesContext(connection) as deep:
        response = member_client.get(
            f"/collections/{collection.public_id}/?cursor={page.next_cursor}"
        )
    assert response.status_code == 200 and len(tile_ids(response.text)) == 35
    assert len(deep.captured_queries) == many[0][1]


def test_collections_are_in_the_admin(
    team: Team, member: User, membership: Membership, make_user: Callable[..., User]
) -> None:
    collection = collection_services.collection_create(membership=membership, name="Admin me")
    collection_services.collection_add(
        membership=membership, collection=collection, images=[make_item(team, member).image]
    )
    client = client_for(make_user("root", is_staff=True, is_superuser=True))
    listing = client.get("/admin/gallery/collection/")
    assert listing.status_code == 200 and "Admin me" in listing.text
    change = client.get(f"/admin/gallery/collection/{collection.pk}/change/")
    assert change.status_code == 200 and "Collection items" in change.text


# -- sharing a collection (step 2) ---------------------------------------------------------------


def share_collection(client: Client, collection: Collection, mode: str, **extra: str) -> str:
    """Share through the dialog as a person would; returns the link's token."""
    dialog = client.get("/links/new/", {"collection": collection.public_id}, **HTMX).text
    assert f"Share the collection “{collection.name}”" in dialog
    assert 'value="follow"' in dialog and 'value="freeze"' in dialog
    response = client.post(
        "/links/new/",
        {
            "create": "1",
            "collection": collection.public_id,
            "collection_mode": mode,
            "expires_in_days": "7",
            "allow_download": "on",
            **extra,
        },
        **HTMX,
    )
    assert response.status_code == 200, response.text
    match = re.search(r'id="share-url" value="[^"]*/s/([^/"]+)/"', response.text)
    assert match, response.text
    return match.group(1)


def shown(token: str) -> list[str]:
    html = Client().get(f"/s/{token}/").text
    return re.findall(r'class="shared-item card" id="img-([0-9a-f-]{36})"', html)


def test_a_link_that_follows_a_collection_shows_what_it_holds_at_each_visit(
    member_client: Client, team: Team, member: User, membership: Membership
) -> None:
    a, b, c = (g.image for g in items(team, member, 3))
    collection = collection_services.collection_create(membership=membership, name="Live set")
    collection_services.collection_add(membership=membership, collection=collection, images=[a, b])
    token = share_collection(member_client, collection, "follow")
    link = ShareLink.objects.get()
    assert link.follows_collection and link.collection == collection and not link.items.exists()
    assert shown(token) == [str(a.public_id), str(b.public_id)]
    collection_services.collection_add(membership=membership, collection=collection, images=[c])
    collection_services.collection_move(
        membership=membership, collection=collection, image=c, step=-2
    )
    assert shown(token) == [str(c.public_id), str(a.public_id), str(b.public_id)]
    assert link_image(link, c.public_id) == c  # its media too
    collection_services.collection_remove(membership=membership, collection=collection, images=[a])
    assert shown(token) == [str(c.public_id), str(b.public_id)]
    with pytest.raises(Http404):
        link_image(link, a.public_id)
    link_page = member_client.get(f"/links/{link.public_id}/").text
    assert "follows the collection" in link_page and "Live set" in link_page


def test_a_frozen_collection_link_keeps_the_images_it_was_made_with(
    member_client: Client, team: Team, member: User, membership: Membership
) -> None:
    a, b, c = (g.image for g in items(team, member, 3))
    collection = collection_services.collection_create(membership=membership, name="Frozen")
    collection_services.collection_add(membership=membership, collection=collection, images=[b, a])
    token = share_collection(member_client, collection, "freeze")
    link = ShareLink.objects.get()
    assert not link.follows_collection and link.collection == collection
    collection_services.collection_add(membership=membership, collection=collection, images=[c])
    collection_services.collection_remove(membership=membership, collection=collection, images=[a])
    assert shown(token) == [str(b.public_id), str(a.public_id)]
    with pytest.raises(Http404):
        link_image(ShareLink.objects.get(), c.public_id)


def test_a_followed_collection_withholds_unapproved_images_when_the_team_requires_approval(
    member_client: Client, team: Team, member: User, membership: Membership
) -> None:
    a = make_item(team, member).image
    collection = collection_services.collection_create(membership=membership, name="Policy")
    collection_services.collection_add(membership=membership, collection=collection, images=[a])
    token = share_collection(member_client, collection, "follow")
    Team.objects.filter(pk=team.pk).update(share_requires_approval=True)
    pending = make_item(team, member, review_state="pending").image
    collection_services.collection_add(
        membership=membership, collection=collection, images=[pending]
    )
    assert shown(token) == [str(a.public_id)]


def test_the_drag_tray_lists_the_teams_collections_for_members_only(
    team: Team, member: User, membership: Membership, make_user: Callable[..., User]
) -> None:
    """The drop targets a dragged gallery tile is offered (issue 16: add by dragging tiles):
    this team's collections with their counts, nothing of another team's, nothing for a
    viewer, and the gallery page only points at it (it costs the gallery no query)."""
    image = make_item(team, member).image
    spring = collection_services.collection_create(membership=membership, name="Spring")
    collection_services.collection_add(membership=membership, collection=spring, images=[image])
    collection_services.collection_create(membership=membership, name="Autumn <b>")
    stranger = make_user("stranger")
    other_team = team_create(name="Other", owner=stranger)
    other = Membership.objects.get(team=other_team, user=stranger)
    collection_services.collection_create(membership=other, name="Not yours")

    as_member = client_for(member)
    html = as_member.get(reverse("collection-tray")).text
    targets = re.findall(r'data-collection-drop="([0-9a-f-]{36})">([^<]*)<span', html)
    assert [(pk, name.strip()) for pk, name in targets] == [
        (str(c.public_id), c.name.replace("<", "&lt;").replace(">", "&gt;"))
        for c in Collection.objects.filter(team=team).order_by("name")
    ]
    assert "Not yours" not in html and "Autumn &lt;b&gt;" in html
    gallery = as_member.get("/").text
    assert f'data-collection-tray="{reverse("collection-tray")}"' in gallery
    assert "js/collection.js" in gallery

    viewer = make_user("viewer")
    membership_add(team=team, user=viewer, role=Membership.Role.VIEWER)
    as_viewer = client_for(viewer)
    assert as_viewer.get(reverse("collection-tray")).status_code == 404
    assert "data-collection-tray" not in as_viewer.get("/").text
    assert as_member.post(reverse("collection-tray")).status_code == 405


def test_a_tile_dropped_on_a_collection_is_added_as_the_selection_bar_adds_it(
    team: Team, member: User, membership: Membership
) -> None:
    """What the drop sends (static/js/collection.js): one item's id, the collection, add=1, as
    htmx; the answer it reads out is the dialog's status line, or its alert when refused."""
    [finished] = items(team, member, 1)
    spring = collection_services.collection_create(membership=membership, name="Spring")
    as_member = client_for(member)
    drop = {"ids": [finished.public_id], "collection": spring.public_id, "add": "1"}
    response = as_member.post(reverse("collection-add"), drop, **HTMX)
    assert response.status_code == 200
    assert re.search(r'role="status">Added 1 image to “Spring”\.<', response.text)
    assert order(spring) == [finished.image.pk]
    in_flight = make_item(team, member, status="processing")
    refused = as_member.post(
        reverse("collection-add"), {**drop, "ids": [in_flight.public_id]}, **HTMX
    )
    assert 'role="status"' not in refused.text
    assert re.search(r'role="alert">Only finished images can be collected', refused.text)
    assert order(spring) == [finished.image.pk]
