"""Lineage on the detail page (issue 16): where an item came from (the items its references
were made from, the request it remixes or re-runs) and where it went (remixes and re-runs,
requests that used it as a reference), as small linked thumbnails under the same visibility
rules as the grid; the reference library shows how often each reference was used."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from gallery.accounts.models import User
from gallery.generation.models import GenerationRequest, Reference
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add
from tests.factories import make_image, make_item

pytestmark = pytest.mark.django_db


def lineage(html: str, title: str) -> list[str]:
    """The item ids linked under one heading of the lineage section."""
    section = html.split('id="lineage-title"', 1)[1].split("</section>", 1)[0]
    parts = section.split(f">{title}</h3>", 1)
    if len(parts) == 1:
        return []
    strip = parts[1].split("</ul>", 1)[0]
    return re.findall(r'href="/items/([0-9a-f-]{36})/"', strip)


def test_remix_and_rerun_link_both_ways(member_client: Client, team: Team, member: User) -> None:
    original = make_item(team, member, prompt="the original")
    remix = make_item(team, member, prompt="the remix")
    rerun = make_item(team, member, prompt="the re-run")
    GenerationRequest.objects.filter(pk__in=[remix.request_id, rerun.request_id]).update(
        remix_of=original.request
    )
    html = member_client.get(f"/items/{remix.public_id}/").text
    assert lineage(html, "Remix or re-run of") == [str(original.public_id)]
    html = member_client.get(f"/items/{original.public_id}/").text
    assert set(lineage(html, "Remixed or re-run as")) == {
        str(remix.public_id),
        str(rerun.public_id),
    }
    assert f'src="/links/thumbs/{remix.image.public_id}/"' in html
    untouched = make_item(team, member, prompt="alone")
    assert 'id="lineage-title"' not in member_client.get(f"/items/{untouched.public_id}/").text


def test_use_as_reference_links_the_source_and_its_uses(
    member_client: Client, team: Team, member: User, media_storage: Path
) -> None:
    source = make_image(team, member, prompt="the source", state="approved")
    response = member_client.post(f"/images/{source.public_id}/use-as-reference/")
    assert response.status_code == 302
    reference = Reference.objects.get()
    assert reference.source_image == source
    used = make_item(team, member, prompt="made with it")
    used.request.references.add(reference, through_defaults={"position": 1})
    html = member_client.get(f"/items/{source.generation.public_id}/").text
    assert lineage(html, "Used as a reference by") == [str(used.public_id)]
    html = member_client.get(f"/items/{used.public_id}/").text
    assert lineage(html, "References made from") == [str(source.generation.public_id)]
    # The library counts its uses.
    other = make_item(team, member, prompt="again")
    other.request.references.add(reference, through_defaults={"position": 1})
    library = member_client.get("/references/library/").text
    assert "used 2\N{MULTIPLICATION SIGN}" in library


def test_lineage_is_access_checked(
    team: Team, member: User, make_user: Callable[..., User]
) -> None:
    Team.objects.filter(pk=team.pk).update(pending_visible_to_team=False)
    original = make_item(team, member, prompt="visible original")
    colleague = make_user("colleague")
    membership_add(team=team, user=colleague, role=Membership.Role.MEMBER)
    hidden = make_item(team, colleague, prompt="hidden remix", review_state="rejected")
    shown = make_item(team, colleague, prompt="approved remix")
    GenerationRequest.objects.filter(pk__in=[hidden.request_id, shown.request_id]).update(
        remix_of=original.request
    )
    client = Client()
    client.force_login(member)
    html = client.get(f"/items/{original.public_id}/").text
    assert lineage(html, "Remixed or re-run as") == [str(shown.public_id)]
    assert "hidden remix" not in html


def test_the_detail_page_costs_the_same_with_a_long_lineage(
    member_client: Client, team: Team, member: User
) -> None:
    original = make_item(team, member, prompt="root")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert member_client.get(f"/items/{original.public_id}/").status_code == 200
        return len(captured.captured_queries)

    first = make_item(team, member)
    GenerationRequest.objects.filter(pk=first.request_id).update(remix_of=original.request)
    one = queries()
    for _ in range(8):
        more = make_item(team, member)
        GenerationRequest.objects.filter(pk=more.request_id).update(remix_of=original.request)
    assert queries() == one
