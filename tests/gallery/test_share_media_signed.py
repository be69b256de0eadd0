"""A shared link's media off the Django path (issue 15): its page hands out signed URLs that
are served with no session and no query, checked against the link's state in the cache, so a
revoked, changed, expired or deleted link's media are gone on the next request."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage
from gallery.sharing import linkstate
from gallery.sharing import services as sharing_services
from gallery.sharing.models import ShareLink
from gallery.team.models import Membership, Team
from tests.factories import make_item

pytestmark = pytest.mark.django_db
State = GalleryImage.ReviewState


@pytest.fixture
def image(team: Team, member: User, media_storage: Path) -> GalleryImage:
    generation = make_item(team, member, files=True, thumbnail_widths=(400, 800, 1600))
    GalleryImage.objects.filter(pk=generation.image.pk).update(review_state=State.APPROVED)
    return GalleryImage.objects.get(pk=generation.image.pk)


@pytest.fixture
def membership(team: Team, member: User) -> Membership:
    return Membership.objects.select_related("team", "user").get(team=team, user=member)


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[[Callable[[], Any]], Any]:
    """Run ``action`` and the callbacks its transaction leaves for after the commit."""

    def run(action: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    return run


def create(membership: Membership, image: GalleryImage, **options: Any) -> Any:
    options.setdefault("expires_in_days", 7)
    return sharing_services.share_link_create(membership=membership, images=[image], **options)


def page_urls(client: Client, token: str) -> list[str]:
    html = client.get(f"/s/{token}/").content.decode()
    return [u.replace("&amp;", "&") for u in re.findall(r'<img src="([^"]+)"', html)]


def fetch(url: str) -> tuple[int, bytes, int]:
    """(status, body, queries) for a browser that holds no cookie at all."""
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body, len(queries.captured_queries)


def test_the_page_hands_out_signed_urls_served_without_a_session_or_a_query(
    membership: Membership, image: GalleryImage, media_storage: Path, committed: Any
) -> None:
    created = committed(lambda: create(membership, image))
    [url] = page_urls(Client(), created.token)
    assert url.startswith("/media/l/") and "?e=" in url and "&s=" in url
    # Neither the link's id nor its team's is in it.
    assert str(created.link.public_id) not in url and str(membership.team.public_id) not in url
    status, body, queries = fetch(url)
    preview = image.thumbnails.get(width=1600)
    assert (status, queries) == (200, 0)
    assert body == (media_storage / preview.file.name).read_bytes()
    response = Client().get(url)
    max_age = int(re.search(r"max-age=(\d+)", response["Cache-Control"]).group(1))  # type: ignore[union-attr]
    assert "private" in response["Cache-Control"] and 0 < max_age <= 3600
    assert "immutable" not in response["Cache-Control"]


def test_a_revoked_link_loses_its_media_on_the_next_request(
    membership: Membership, image: GalleryImage, member_client: Client, committed: Any
) -> None:
    created = committed(lambda: create(membership, image))
    [url] = page_urls(Client(), created.token)
    assert fetch(url)[0] == 200
    revoke = reverse("share-link-revoke", args=[created.link.public_id])
    assert committed(lambda: member_client.post(revoke)).status_code == 302
    status, _, queries = fetch(url)
    assert (status, queries) == (410, 0)  # gone, as the link's page is
    # A page rendered from the row read before the revocation cannot bring it back.
    stale = ShareLink.objects.get(pk=created.link.pk)
    stale.revoked_at = None
    linkstate.prime(stale)
    assert fetch(url)[0] == 410


def test_changing_what_visitors_may_see_retires_the_urls_handed_out(
    membership: Membership, image: GalleryImage, committed: Any
) -> None:
    created = committed(lambda: create(membership, image))
    [before] = page_urls(Client(), created.token)
    committed(
        lambda: sharing_services.share_link_update(
            link=created.link, actor=membership, allow_download=False
        )
    )
    assert fetch(before)[0] == 404
    [after] = page_urls(Client(), created.token)
    status, body, _ = fetch(after)
    assert status == 200 and after != before
    with Image.open(io.BytesIO(body)) as shown:
        assert shown.width <= 800  # without downloads, previews at most 800 px wide


def test_a_password_link_hands_out_urls_only_once_unlocked(
    membership: Membership, image: GalleryImage, committed: Any
) -> None:
    created = committed(lambda: create(membership, image, password="open sesame"))
    visitor = Client()
    assert page_urls(visitor, created.token) == []
    visitor.post(f"/s/{created.token}/", {"password": "open sesame"})
    [url] = page_urls(visitor, created.token)
    assert fetch(url)[0] == 200  # the URL is the permission, as for the team's thumbnails
    committed(
        lambda: sharing_services.share_link_update(
            link=created.link, actor=membership, password="another secret"
        )
    )
    assert fetch(url)[0] == 404


def test_expiry_deletion_and_a_lost_state(
    membership: Membership, image: GalleryImage, committed: Any
) -> None:
    created = committed(lambda: create(membership, image, expires_in_days=1))
    link = ShareLink.objects.select_related("team").get(pk=created.link.pk)
    [url] = page_urls(Client(), created.token)
    key = re.match(r"/media/l/([0-9a-f]{32})/([0-9a-f]{12})/", url)
    assert key is not None
    ends = link.expires_at.timestamp()  # type: ignore[union-attr]
    assert linkstate.team_if_allowed(*key.groups(), now=ends - 1) == str(link.team.public_id)
    assert linkstate.team_if_allowed(*key.groups(), now=ends + 1) is None
    assert linkstate.is_gone(key.group(1), now=ends + 1) and not linkstate.is_gone(key.group(1))
    # The cache lost the state (eviction, a restart): 404 until the page is loaded again.
    from django.core.cache import cache

    cache.clear()
    assert fetch(url)[0] == 404
    assert page_urls(Client(), created.token) == [url]
    assert fetch(url)[0] == 200
    committed(link.delete)
    assert fetch(url)[0] == 410


def test_tampered_urls_are_refused(
    membership: Membership, image: GalleryImage, committed: Any
) -> None:
    created = committed(lambda: create(membership, image))
    [url] = page_urls(Client(), created.token)
    path, query = url.split("?")
    for candidate in (
        path,
        f"{path}?{query[:-2]}AA",
        url.replace("-1600.webp", "-400.webp"),  # another file of the same image
        re.sub(r"/media/l/[0-9a-f]{32}/", "/media/l/" + "0" * 32 + "/", url),  # another link
    ):
        assert fetch(candidate)[0] == 404, candidate


def test_the_wsgi_wrapper_serves_and_refuses_them_before_django(
    membership: Membership, image: GalleryImage, media_storage: Path, committed: Any
) -> None:
    """What gunicorn runs: a link's URL is answered before Django, and refused once revoked."""
    from gallery.media.middleware import SignedMediaWSGI

    created = committed(lambda: create(membership, image))
    [url] = page_urls(Client(), created.token)
    path, query = url.split("?")
    reached: list[str] = []

    def django_app(environ: dict[str, object], start_response: Any) -> list[bytes]:
        reached.append(str(environ["PATH_INFO"]))
        start_response("200 OK", [])
        return [b"django"]

    def call() -> tuple[str, bytes]:
        answer: dict[str, str] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            answer["status"] = status

        environ = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET"}
        body = b"".join(SignedMediaWSGI(django_app)(environ, start_response))
        return answer["status"], body

    with CaptureQueriesContext(connection) as queries:
        status, body = call()
    assert status == "200 OK" and queries.captured_queries == [] and reached == []
    assert body == (media_storage / image.thumbnails.get(width=1600).file.name).read_bytes()
    committed(lambda: sharing_services.share_link_revoke(link=created.link, membership=membership))
    assert call()[0] == "410 Gone" and reached == []
