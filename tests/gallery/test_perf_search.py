"""Prompt search at scale (issue 15): on PostgreSQL a stored, generated tsvector column in a
GIN index that starts with the team (btree_gin), used by the gallery's search; SQLite keeps
word-by-word icontains (tests/gallery/test_views_gallery.py covers both behaviours)."""

from __future__ import annotations

import pytest
from django.db import connection

from gallery.accounts.models import User
from gallery.browse.selectors import GalleryFilters, gallery_page, matching_requests
from gallery.generation.models import GenerationRequest
from gallery.team.models import Membership, Team
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def _one(sql: str, *params: object) -> object:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def test_the_prompt_vector_is_a_stored_generated_column(postgres: None, team: Team) -> None:
    generated = _one(
        "SELECT is_generated FROM information_schema.columns "
        "WHERE table_name = 'gallery_generationrequest' AND column_name = 'prompt_tsv'"
    )
    assert generated == "ALWAYS"
    assert _one("SELECT 1 FROM pg_extension WHERE extname = 'btree_gin'") == 1
    definition = str(
        _one(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
            "generation_request_team_prompt_fts",
        )
    )
    assert "USING gin (team_id, prompt_tsv)" in definition
    assert (
        _one("SELECT 1 FROM pg_indexes WHERE indexname = 'generation_request_prompt_fts'") is None
    )


def test_the_vector_follows_the_prompt(postgres: None, team: Team, member: User) -> None:
    generation = make_item(team, member, prompt="Seven herons over the marsh")
    GenerationRequest.objects.filter(pk=generation.request_id).update(prompt="A copper kettle")
    membership = Membership.objects.select_related("user", "team").get(user=member, team=team)

    def found(text: str) -> list[int]:
        return [g.pk for g in gallery_page(membership, filters=GalleryFilters(q=text)).items]

    assert found("kettles") == [generation.pk]
    assert found("heron") == []


def test_search_stays_inside_the_team(
    postgres: None, team: Team, member: User, make_user: object
) -> None:
    from gallery.team.services import team_create

    other = team_create(name="Other", owner=member)
    make_item(other, member, prompt="an albatross at sea")
    mine = make_item(team, member, prompt="an albatross on a rock")
    membership = Membership.objects.select_related("user", "team").get(user=member, team=team)
    page = gallery_page(membership, filters=GalleryFilters(q="albatross"))
    assert [g.pk for g in page.items] == [mine.pk]


def test_the_search_can_use_the_team_and_vector_index(
    postgres: None, team: Team, member: User
) -> None:
    for n in range(30):
        make_item(team, member, prompt=f"common words number {n}")
    rare = make_item(team, member, prompt="a narwhal under ice")
    membership = Membership.objects.select_related("user", "team").get(user=member, team=team)
    page = gallery_page(membership, filters=GalleryFilters(q="narwhal"))
    assert [g.pk for g in page.items] == [rare.pk]
    GenerationRequest.objects.bulk_create(  # enough of the team's rows for a real plan
        GenerationRequest(
            team=team,
            author=member,
            model="m",
            prompt=f"a lighthouse at dusk {n}",
            parameters={},
            batch_size=1,
        )
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        # New rows wait in the GIN's pending list until a vacuum; move them into the index.
        cursor.execute("SELECT gin_clean_pending_list('generation_request_team_prompt_fts')")
        cursor.execute("ANALYZE gallery_generationrequest")
        plan = matching_requests("narwhal", team.pk).explain()
    assert "Bitmap Index Scan on generation_request_team_prompt_fts" in plan
