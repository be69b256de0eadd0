"""Live pages: one conditional poll per open page, 304 while nothing changed, the changed tiles
once something did; the in-flight detail page the same way."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gallery.accounts.models import User
from gallery.browse.selectors import LIVE_WINDOW
from gallery.generation.models import Generation
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add, team_create
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def _ids(html: str) -> list[str]:
    return re.findall(r'id="tile-([0-9a-f-]{36})"', html)


def _poll(client: Client, url: str, etag: str = "", **extra: Any) -> Any:
    headers = {"HTTP_IF_NONE_MATCH": etag} if etag else {}
    return client.get(url, **headers, **extra)


@pytest.fixture
def colleague(team: Team, make_user: Callable[..., User]) -> User:
    user = make_user("colleague")
    membership_add(team=team, user=user, role=Membership.Role.MEMBER)
    return user


def test_an_unchanged_gallery_answers_304_with_one_cheap_query(
    member_client: Client, team: Team, member: User
) -> None:
    for i in range(5):
        make_item(team, member, prompt=f"old {i}", created_at=timezone.now() - timedelta(days=1))
    first = _poll(member_client, "/live/")
    assert first.status_code == 200 and first["Cache-Control"] == "private, no-cache"
    etag = first["ETag"]
    with CaptureQueriesContext(connection) as queries:
        again = _poll(member_client, f"/live/?since={time.time()}", etag)
    assert again.status_code == 304 and again.content == b""
    gallery_queries = [
        q["sql"] for q in queries.captured_queries if "gallery_generation" in q["sql"]
    ]
    assert len(gallery_queries) == 1 and "MAX" in gallery_queries[0].upper()


def test_a_teammates_new_item_and_a_status_change_come_with_the_next_poll(
    member_client: Client, team: Team, member: User, colleague: User
) -> None:
    running = make_item(team, member, prompt="mine, running", status="processing")
    page_time = time.time()
    etag = _poll(member_client, "/live/")["ETag"]
    assert _poll(member_client, f"/live/?since={page_time}", etag).status_code == 304

    theirs = make_item(team, colleague, prompt="the colleague's new one")
    Generation.objects.filter(pk=running.pk).update(status="failed", updated_at=timezone.now())
    response = _poll(member_client, f"/live/?since={page_time}", etag)
    html = response.content.decode()
    assert response.status_code == 200 and response["ETag"] != etag
    assert set(_ids(html)) == {str(theirs.public_id), str(running.public_id)}
    assert "<template data-live-tiles" in html and "<html" not in html
    since = re.search(r'data-since="([0-9.]+)"', html)
    assert since and float(since.group(1)) >= page_time
    # The failed tile says so and is no longer marked in flight; the new one is newest.
    assert html.index(str(running.public_id)) < html.index(str(theirs.public_id))
    assert (
        "data-in-flight"
        not in html.split(f'id="tile-{running.public_id}"')[1].split("</article>")[0]
    )


def test_a_row_committed_late_inside_the_window_still_changes_the_version(
    member_client: Client, team: Team, member: User
) -> None:
    make_item(team, member, prompt="a")
    etag = _poll(member_client, "/live/")["ETag"]
    # A row whose timestamp is older than the newest one (it committed after a later write).
    late = make_item(team, member, prompt="late")
    Generation.objects.filter(pk=late.pk).update(updated_at=timezone.now() - timedelta(seconds=20))
    response = _poll(member_client, f"/live/?since={time.time() - 5}", etag)
    assert response.status_code == 200 and str(late.public_id) in response.content.decode()
    assert timedelta(seconds=60) <= LIVE_WINDOW


def test_live_tiles_keep_to_the_pages_filters_and_the_review_policy(
    member_client: Client, team: Team, member: User, colleague: User
) -> None:
    team.pending_visible_to_team = False
    team.save()
    mine = make_item(team, member, prompt="mine")
    theirs = make_item(team, colleague, prompt="theirs")
    hidden = make_item(team, colleague, prompt="pending elsewhere", review_state="pending")
    since = time.time() - 10
    html = _poll(member_client, f"/live/?since={since}&author=member").content.decode()
    assert _ids(html) == [str(mine.public_id)]
    everyone = _ids(_poll(member_client, f"/live/?since={since}").content.decode())
    assert str(theirs.public_id) in everyone and str(hidden.public_id) not in everyone


def test_another_teams_changes_are_not_sent(
    member_client: Client, team: Team, make_user: Callable[..., User]
) -> None:
    stranger = make_user("stranger")
    elsewhere = team_create(name="Elsewhere", owner=stranger)
    etag = _poll(member_client, "/live/")["ETag"]
    make_item(elsewhere, stranger, prompt="not yours")
    response = _poll(member_client, f"/live/?since={time.time() - 5}", etag)
    assert response.status_code == 304


def test_the_detail_page_of_an_item_in_flight_polls_until_it_changes(
    member_client: Client, team: Team, member: User
) -> None:
    item = make_item(team, member, status="processing")
    page = member_client.get(f"/items/{item.public_id}/").content.decode()
    assert "This page updates by itself" in page
    found = re.search(r'data-live="([^"]+)" data-live-etag="([^"]+)"', page)
    assert found and found.group(1) == f"/items/{item.public_id}/live/"
    url, etag = found.group(1), f'"{found.group(2)}"'
    assert _poll(member_client, url, etag).status_code == 304
    Generation.objects.filter(pk=item.pk).update(
        status="failed", last_error="Oxen said no.", updated_at=timezone.now()
    )
    changed = _poll(member_client, url, etag)
    html = changed.content.decode()
    assert changed.status_code == 200 and "Oxen said no." in html
    assert 'id="detail"' in html and "data-live=" not in html  # finished: it stops polling


def test_live_answers_need_a_login_and_the_items_team(
    client: Client, team: Team, member: User, make_user: Callable[..., User]
) -> None:
    item = make_item(team, member, status="processing")
    assert client.get("/live/").status_code == 302
    stranger = make_user("stranger")
    team_create(name="Elsewhere", owner=stranger)
    client.force_login(stranger)
    assert client.get(f"/items/{item.public_id}/live/").status_code == 404
