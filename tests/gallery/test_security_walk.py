"""Security walks over every route the app serves, enumerated from the URL resolver so that a
route added later is covered (or fails the walk until it is described here):

* another team's ids answer 404 on every route that takes an id, whatever the method;
* a GET changes no row (shared-link counters aside);
* neither the Oxen API key nor an Oxen presigned result URL reaches any response.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from gallery.accounts.models import User
from gallery.api import webhooks
from gallery.api.models import ApiToken, WebhookDelivery, WebhookEndpoint
from gallery.api.tokens import api_token_create
from gallery.collection import services as collection_services
from gallery.collection.models import Collection
from gallery.generation.models import GalleryImage, Generation, GenerationRequest, Reference
from gallery.generation.references import reference_signed_url, reference_upload
from gallery.media.models import Thumbnail
from gallery.sharing import services as sharing_services
from gallery.sharing.models import ShareLink
from gallery.team import invitations
from gallery.team.models import Invitation, Membership, Team
from gallery.team.services import membership_add, team_create
from seedream.simulator import Simulator
from tests.conftest import png_bytes
from tests.factories import make_item

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    params: tuple[str, ...]


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue  # Django's own admin; its team scoping is tested below
            if entry.namespace == "api":
                continue  # the JSON API: its own walk is tests/gallery/api/test_api_walk.py
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            assert entry.name, f"every route needs a name: {prefix}{entry.pattern}"
            params = tuple(entry.pattern.regex.groupindex)
            yield Route(entry.name, prefix + str(entry.pattern), params)


ROUTES = sorted(_walk(get_resolver().url_patterns), key=lambda route: route.name)

# Routes anyone holding a secret token may open: they have no team to be outside of.
PUBLIC_TOKEN_ROUTES = {
    "shared",
    "shared-media",
    "shared-proof-name",
    "shared-proof-pick",
    "shared-proof-comment",
    "invitation-accept",
    "reference-public",
}

# What each id-taking route names. A new route with an id fails
# ``test_every_route_with_an_id_is_described`` until it is added here.
ID_KINDS = {
    "gallery-detail": "generation",
    "gallery-tile": "generation",
    "gallery-item-live": "generation",
    "generation-cancel": "generation",
    "generation-retry": "generation",
    "generation-approve": "generation",
    "generation-decline": "generation",
    "request-rerun": "request",
    "image-favourite": "image",
    "image-use-as-reference": "image",
    "image-flag": "image",
    "media-original": "image",
    "share-member-thumb": "image",
    "review-image": "image",
    "review-decide": "image",
    "review-media": "image-variant",
    "media-thumbnail": "thumbnail",
    "reference-media": "reference",
    "reference-thumb": "reference",
    "review-reference-media": "reference",
    "invitation-revoke": "invitation",
    "member-role": "membership",
    "member-remove": "membership",
    "share-link-revoke": "link",
    "share-link": "link",
    "share-link-edit": "link",
    "share-link-picks-zip": "link",
    "share-link-feedback-csv": "link",
    "collection": "collection",
    "collection-edit": "collection",
    "collection-delete": "collection",
    "collection-remove": "collection",
    "collection-move": "collection",
    "collection-cover": "collection",
    "api-token-revoke": "token",
    "webhook-detail": "webhook",
    "webhook-resend": "delivery",
}


@dataclass
class TeamObjects:
    team: Team
    generation: Generation
    image: GalleryImage
    thumbnail: Thumbnail
    request: GenerationRequest
    reference: Reference
    invitation: Invitation
    invitation_token: str
    membership: Membership
    link: ShareLink
    link_token: str
    collection: Collection
    token: ApiToken
    webhook: WebhookEndpoint
    delivery: WebhookDelivery


def _objects(team: Team, author: User, other: User) -> TeamObjects:
    generation = make_item(team, author, files=True, prompt=f"{team.name} prompt")
    image = generation.image
    reference = reference_upload(
        team=team, user=author, upload=_bytes_io(png_bytes()), name="ref.png"
    )
    generation.request.references.add(reference, through_defaults={"position": 1})
    manager = Membership.objects.get(team=team, user=author)
    created_invitation = invitations.invitation_create(
        membership=manager, role=Membership.Role.MEMBER
    )
    created_link = sharing_services.share_link_create(
        membership=manager, images=[image], expires_in_days=7, allow_download=True
    )
    collection = collection_services.collection_create(membership=manager, name="Project")
    collection_services.collection_add(membership=manager, collection=collection, images=[image])
    webhook = WebhookEndpoint.objects.create(
        team=team,
        url="https://hooks.example.com/in",
        events=["generation.succeeded"],
        secret=webhooks.secret_new(),
    )
    return TeamObjects(
        team=team,
        generation=generation,
        image=image,
        thumbnail=image.thumbnails.order_by("width").first(),  # type: ignore[arg-type]
        request=generation.request,
        reference=reference,
        invitation=created_invitation.invitation,
        invitation_token=created_invitation.token,
        membership=Membership.objects.get(team=team, user=other),
        link=created_link.link,
        link_token=created_link.token,
        collection=collection,
        token=api_token_create(membership=manager, name="feed", scopes=["read"]).token,
        webhook=webhook,
        delivery=WebhookDelivery.objects.create(
            endpoint=webhook,
            event_type="generation.succeeded",
            message_id="msg_1",
            payload={},
            state="succeeded",
        ),
    )


def _bytes_io(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


@dataclass
class World:
    me: User  # an admin of "ours" and a staff reviewer: the widest non-superuser access
    ours: TeamObjects
    theirs: TeamObjects


@pytest.fixture
def world(make_user: Callable[..., User], media_storage: Path) -> World:
    me = make_user("me", is_staff=True)
    our_owner = make_user("our-owner")
    our_team = team_create(name="Ours", owner=our_owner)
    membership_add(team=our_team, user=me, role=Membership.Role.ADMIN)
    colleague = make_user("colleague")
    membership_add(team=our_team, user=colleague, role=Membership.Role.MEMBER)

    stranger = make_user("stranger")
    their_team = team_create(name="Theirs", owner=stranger)
    their_member = make_user("their-member")
    membership_add(team=their_team, user=their_member, role=Membership.Role.MEMBER)
    return World(
        me=me,
        ours=_objects(our_team, me, colleague),
        theirs=_objects(their_team, stranger, their_member),
    )


def _kwargs(route: Route, objects: TeamObjects) -> dict[str, Any]:
    if route.name in PUBLIC_TOKEN_ROUTES:
        token = {
            "shared": objects.link_token,
            "shared-media": objects.link_token,
            "shared-proof-name": objects.link_token,
            "shared-proof-pick": objects.link_token,
            "shared-proof-comment": objects.link_token,
            "invitation-accept": objects.invitation_token,
            "reference-public": reference_signed_url(objects.reference).rstrip("/").split("/")[-1],
        }[route.name]
        if route.name == "shared-media":
            return {"token": token, "public_id": objects.image.public_id, "variant": "preview"}
        if route.name in ("shared-proof-pick", "shared-proof-comment"):
            return {"token": token, "public_id": objects.image.public_id}
        return {"token": token}
    kind = ID_KINDS[route.name]
    if kind == "generation":
        return {"public_id": objects.generation.public_id}
    if kind == "request":
        return {"public_id": objects.request.public_id}
    if kind == "image":
        return {"public_id": objects.image.public_id}
    if kind == "image-variant":
        return {"public_id": objects.image.public_id, "variant": "thumb"}
    if kind == "thumbnail":
        return {
            "public_id": str(objects.image.public_id),
            "sha256": objects.thumbnail.sha256,
            "width": str(objects.thumbnail.width),
        }
    if kind == "reference":
        return {"public_id": objects.reference.public_id}
    if kind == "invitation":
        return {"public_id": objects.invitation.public_id}
    if kind == "membership":
        return {"pk": objects.membership.pk}
    if kind == "link":
        return {"public_id": objects.link.public_id}
    if kind == "collection":
        return {"public_id": objects.collection.public_id}
    if kind == "token":
        return {"public_id": objects.token.public_id}
    if kind == "webhook":
        return {"public_id": objects.webhook.public_id}
    if kind == "delivery":
        return {"public_id": objects.delivery.public_id}
    raise AssertionError(f"unknown kind {kind}")


def _url(route: Route, objects: TeamObjects) -> str:
    return reverse(route.name, kwargs=_kwargs(route, objects) if route.params else None)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- 1. another team's ids are 404 everywhere ----------------------------------------------------


def test_every_route_with_an_id_is_described() -> None:
    undescribed = [
        route.pattern
        for route in ROUTES
        if route.params and route.name not in ID_KINDS and route.name not in PUBLIC_TOKEN_ROUTES
    ]
    assert undescribed == [], "add these routes to ID_KINDS (or PUBLIC_TOKEN_ROUTES)"
    assert set(ID_KINDS) <= {route.name for route in ROUTES}, "ID_KINDS names a route gone"


ID_ROUTES = [route for route in ROUTES if route.name in ID_KINDS]


@pytest.mark.parametrize("route", ID_ROUTES, ids=[route.name for route in ID_ROUTES])
def test_another_teams_id_answers_404_on_every_route(route: Route, world: World) -> None:
    client = _client(world.me)
    theirs = _url(route, world.theirs)
    statuses = {"GET": client.get(theirs).status_code, "POST": client.post(theirs).status_code}
    assert set(statuses.values()) <= {404, 405}, (theirs, statuses)
    assert 404 in statuses.values(), (theirs, statuses)
    # The same route with our own id is reachable with one method at least: the 404 above
    # is the access check, not a broken URL.
    ours = _url(route, world.ours)
    reachable = [client.get(ours).status_code, _client(world.me).post(ours).status_code]
    assert any(status not in (404, 405) for status in reachable), (ours, reachable)


def test_admin_pages_do_not_show_another_teams_rows(world: World) -> None:
    from django.contrib.auth.models import Permission

    world.me.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "view_galleryimage",
                "change_galleryimage",
                "view_generation",
                "view_reference",
                "view_sharelink",
            ]
        )
    )
    client = _client(world.me)
    for model, obj in (
        ("galleryimage", world.theirs.image),
        ("generation", world.theirs.generation),
        ("reference", world.theirs.reference),
        ("sharelink", world.theirs.link),
    ):
        changelist = client.get(reverse(f"admin:gallery_{model}_changelist"))
        assert changelist.status_code == 200
        assert str(obj.public_id) not in changelist.content.decode()
        change = client.get(reverse(f"admin:gallery_{model}_change", args=[obj.pk]))
        assert change.status_code in (302, 404), model  # "doesn't exist", back to the index
        own = client.get(reverse(f"admin:gallery_{model}_change", args=[_ours(world, model).pk]))
        assert own.status_code == 200, model


def _ours(world: World, model: str) -> Any:
    return {
        "galleryimage": world.ours.image,
        "generation": world.ours.generation,
        "reference": world.ours.reference,
        "sharelink": world.ours.link,
    }[model]


# -- 2. GET never changes a row ------------------------------------------------------------------

# Query strings that take a GET down its most interesting path.
QUERIES: dict[str, Callable[[TeamObjects], str]] = {
    "gallery-compare": lambda o: f"?ids={o.generation.public_id}&ids={o.generation.public_id}",
    "share-link-new": lambda o: f"?images={o.image.public_id}",
    "generate": lambda o: f"?remix={o.request.public_id}&ref={o.reference.public_id}",
    "reference-media": lambda o: "?download=1",
}
# The only columns a GET may change: a shared link's counters.
GET_MAY_CHANGE = {"gallery.sharelink": {"view_count", "download_count", "last_accessed_at"}}


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for model in [*apps.get_app_config("gallery").get_models()]:
        label = model._meta.label_lower
        skip = GET_MAY_CHANGE.get(label, set())
        rows[label] = [
            {key: value for key, value in row.items() if key not in skip}
            for row in model._default_manager.order_by("pk").values()
        ]
    return rows


@pytest.mark.parametrize("route", ROUTES, ids=[route.name for route in ROUTES])
def test_a_get_changes_no_row(route: Route, world: World) -> None:
    url = _url(route, world.ours) + QUERIES.get(route.name, lambda _o: "")(world.ours)
    client = _client(world.me)
    before = _snapshot()
    response = client.get(url)
    assert response.status_code < 500, (url, response.status_code)
    assert _snapshot() == before, url


def test_the_shared_page_get_counts_its_view(world: World) -> None:
    Client().get(f"/s/{world.ours.link_token}/")
    world.ours.link.refresh_from_db()
    assert world.ours.link.view_count == 1


# -- 3. the Oxen key and presigned URLs never reach a browser ------------------------------------

RESULT_URL_MARKER = "PRESIGNED-RESULT-MARKER-7f3a"


def _leaks(response: HttpResponse, secrets: list[str]) -> list[str]:
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        body = response.content
    text = (
        body.decode("utf-8", "replace")
        + "\n"
        + "\n".join(f"{key}: {value}" for key, value in response.items())
    )
    return [secret for secret in secrets if secret in text]


def test_no_page_shows_the_oxen_key_or_a_presigned_url(
    world: World, oxen_sim: Simulator, make_user: Callable[..., User]
) -> None:
    key = oxen_sim.api_key
    assert key
    for objects in (world.ours,):
        Generation.objects.filter(pk=objects.generation.pk).update(
            result_url=f"https://oxen.example/results/{RESULT_URL_MARKER}?X-Amz-Signature=abc",
            upstream_id="upstream-abc",
        )
    Generation.objects.filter(pk=world.ours.generation.pk).update(
        last_error="", transitions=[["pending", "2026-01-01T00:00:00+00:00"]]
    )
    secrets = [key, RESULT_URL_MARKER]
    ours = world.ours
    client = _client(world.me)
    pages = [
        "/",
        "/?status=succeeded",
        f"/items/{ours.generation.public_id}/",
        f"/items/{ours.generation.public_id}/tile/",
        f"/items/{ours.generation.public_id}/live/",
        "/live/",
        f"/links/{ours.link.public_id}/",
        "/generate/",
        f"/generate/?remix={ours.request.public_id}",
        f"/compare/?ids={ours.generation.public_id}&ids={make_item(ours.team, world.me).public_id}",
        "/team/",
        "/team/settings/",
        "/links/",
        f"/links/new/?images={ours.image.public_id}",
        "/review/",
        f"/review/{ours.image.public_id}/",
    ]
    leaks: dict[str, list[str]] = {}
    for page in pages:
        response = client.get(page, follow=True)
        assert response.status_code == 200, page
        if found := _leaks(response, secrets):
            leaks[page] = found
    public = Client()
    for page in (f"/s/{ours.link_token}/", f"/join/{ours.invitation_token}/"):
        response = public.get(page)
        assert response.status_code == 200, page
        if found := _leaks(response, secrets):
            leaks[page] = found
    root = make_user("root", is_staff=True, is_superuser=True)
    admin = _client(root)
    for page in (
        reverse("admin:gallery_galleryimage_changelist"),
        reverse("admin:gallery_galleryimage_change", args=[ours.image.pk]),
        reverse("admin:gallery_generation_changelist"),
        reverse("admin:gallery_generation_change", args=[ours.generation.pk]),
    ):
        response = admin.get(page)
        assert response.status_code == 200, page
        if found := _leaks(response, secrets):
            leaks[page] = found
    assert leaks == {}


def test_copy_commands_read_the_key_from_the_environment(world: World, settings: Any) -> None:
    settings.OXEN_API_KEY = "sk-distinctive-key-for-the-walk"
    html = _client(world.me).get(f"/items/{world.ours.generation.public_id}/").content.decode()
    assert "$OXEN_API_KEY" in html
    assert re.search(r"os\.environ\[(&#x27;|')OXEN_API_KEY(&#x27;|')\]", html)
    assert "sk-distinctive-key-for-the-walk" not in html
