"""Thumbnails off the Django path (issue 15): the grid hands out signed, expiring URLs that the
first middleware serves with no session and no query; anything else about them is refused."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from gallery.accounts.models import User
from gallery.media import signed
from gallery.team.models import Team
from gallery.team.services import team_create
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def _grid_urls(html: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(r'<img src="([^"]+)"', html)]


def test_the_grid_hands_out_signed_urls_served_without_a_session_or_a_query(
    member_client: Client, team: Team, member: User, media_storage: Path
) -> None:
    generation = make_item(team, member, files=True, thumbnail_widths=(400, 800))
    [url] = _grid_urls(member_client.get("/").content.decode())
    assert url.startswith(f"/media/s/{team.public_id}/") and "?e=" in url and "&s=" in url
    thumb = generation.image.thumbnails.get(width=400)
    anonymous = Client()  # no cookie at all: the URL is the permission
    with CaptureQueriesContext(connection) as queries:
        response = anonymous.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (media_storage / thumb.file.name).read_bytes()
    assert queries.captured_queries == []
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert "Set-Cookie" not in response


def test_a_url_is_the_same_all_day_and_expires_within_two_days() -> None:
    team, sha = "0" * 8 + "-0000-0000-0000-" + "0" * 12, "ab" * 32
    morning = signed.thumbnail_url(team, sha, 400, now=1_800_000_000 - 1_800_000_000 % 86400 + 60)
    evening = signed.thumbnail_url(
        team, sha, 400, now=1_800_000_000 - 1_800_000_000 % 86400 + 86000
    )
    assert morning == evening
    expires = int(re.search(r"e=(\d+)", morning).group(1))  # type: ignore[union-attr]
    assert 86400 < expires - (1_800_000_000 - 1_800_000_000 % 86400 + 60) <= 2 * 86400


def test_tampered_expired_or_other_team_urls_are_refused(
    member_client: Client, team: Team, member: User, media_storage: Path, make_user: object
) -> None:
    make_item(team, member, files=True, thumbnail_widths=(400,))
    [url] = _grid_urls(member_client.get("/").content.decode())
    path, query = url.split("?")
    expires = int(re.search(r"e=(\d+)", query).group(1))  # type: ignore[union-attr]
    other = team_create(name="Other", owner=member)
    anonymous = Client()
    bad = [
        path,  # unsigned
        f"{path}?e={expires}&s=AAAAAAAAAAAAAAAAAAAAAA",  # wrong signature
        f"{path}?e={expires + 86400}&{query.split('&')[1]}",  # a later expiry, same signature
        url.replace(str(team.public_id), str(other.public_id)),  # another team's folder
        url.replace("-400.webp", "-800.webp"),  # another file
        url.replace(".webp", ".webp/../../x"),
    ]
    for candidate in bad:
        response = anonymous.get(candidate)
        assert response.status_code == 404, candidate
    past = int(time.time()) - 10
    stale = f"{path}?e={past}&s={signed.signature(path, str(team.public_id), past)}"
    assert anonymous.get(stale).status_code == 404
    assert anonymous.post(url).status_code == 405


def test_the_middleware_runs_before_sessions_and_authentication() -> None:
    order = settings.MIDDLEWARE
    mine = order.index("gallery.media.middleware.SignedMediaMiddleware")
    assert mine < order.index("django.contrib.sessions.middleware.SessionMiddleware")
    assert mine < order.index("django.contrib.auth.middleware.AuthenticationMiddleware")


def test_another_teams_page_never_signs_this_teams_images(
    member_client: Client, team: Team, member: User, media_storage: Path
) -> None:
    """The detail page, compare and the grid sign only images of the viewer's active team;
    the access-checked view's URL still serves the same bytes to a member."""
    generation = make_item(team, member, files=True, thumbnail_widths=(400,))
    html = member_client.get(f"/items/{generation.public_id}/").content.decode()
    assert f"/media/s/{team.public_id}/" in html
    thumb = generation.image.thumbnails.get()
    old = f"/media/t/{generation.image.public_id}/{thumb.sha256}-{thumb.width}.webp"
    assert member_client.get(old).status_code == 200
    assert Client().get(old).status_code == 302  # the view still needs a session


def test_the_wsgi_wrapper_serves_signed_urls_before_django(
    team: Team, member: User, media_storage: Path
) -> None:
    """gallery.wsgi wraps Django: a signed URL never reaches it (no request object, no query);
    anything else, a forged URL included, is answered as before."""
    from gallery.media.middleware import SignedMediaWSGI

    generation = make_item(team, member, files=True, thumbnail_widths=(400,))
    thumb = generation.image.thumbnails.get()
    url = signed.thumbnail_url(str(team.public_id), thumb.sha256, thumb.width)
    path, query = url.split("?")
    reached: list[str] = []

    def django_app(environ: dict[str, object], start_response: object) -> list[bytes]:
        reached.append(str(environ["PATH_INFO"]))
        start_response("200 OK", [])  # type: ignore[operator]
        return [b"django"]

    app = SignedMediaWSGI(django_app)

    def call(path: str, query: str, method: str = "GET") -> tuple[str, dict[str, str], bytes]:
        answer: dict[str, object] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            answer.update(status=status, headers=dict(headers))

        body = b"".join(
            app(
                {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method}, start_response
            )
        )
        return str(answer["status"]), answer["headers"], body  # type: ignore[return-value]

    with CaptureQueriesContext(connection) as queries:
        status, headers, body = call(path, query)
    assert status == "200 OK" and queries.captured_queries == [] and reached == []
    assert body == (media_storage / thumb.file.name).read_bytes()
    assert (
        headers["Content-Type"] == "image/webp" and headers["X-Content-Type-Options"] == "nosniff"
    )
    assert headers["Content-Length"] == str(len(body))
    assert call(path, query.replace("s=", "s=x"))[0] == "404 Not Found"
    assert call(path, query, "POST")[0] == "405 Method Not Allowed"
    assert call(path, query, "HEAD")[2] == b""
    assert call("/items/", "")[2] == b"django" and reached == ["/items/"]


def test_gunicorn_runs_the_wrapped_application() -> None:
    import gallery.wsgi
    from gallery.media.middleware import SignedMediaWSGI

    assert isinstance(gallery.wsgi.application, SignedMediaWSGI)
