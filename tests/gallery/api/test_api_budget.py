"""The API goes through the same budget check as the pages (issues 11 and 12): a request over a
limit is a problem detail naming the limit, nothing is created or sent, and a retry counts
against the member whose token asks for it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from gallery.accounts.models import User
from gallery.budget.models import TeamBudget
from gallery.generation.models import Generation, GenerationRequest
from gallery.team.models import Team
from seedream.simulator import Simulator
from tests.conftest import new_request
from tests.factories import make_item
from tests.gallery.api.conftest import ApiClient

pytestmark = pytest.mark.django_db
PRICE = Decimal("0.04")  # the simulator's published cost_per_image


def test_a_submit_over_the_team_budget_is_a_409_and_creates_nothing(
    oxen_sim: Simulator, api_client: Callable[..., ApiClient], team: Team
) -> None:
    TeamBudget.objects.create(team=team, monthly_limit=PRICE)
    response = api_client().post(
        "/api/v1/generations",
        {"prompt": "a lighthouse at dusk", "parameters": {"size": "2K"}, "batch_size": 2},
        content_type="application/json",
    )
    assert response.status_code == 409, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert "Over the team's monthly budget of $0.04" in response.json()["detail"]
    assert not GenerationRequest.objects.exists()
    assert oxen_sim.counters().get("POST /api/ai/queue", 0) == 0


def test_a_retry_through_the_api_counts_against_the_caller(
    oxen_sim: Simulator,
    api_client: Callable[..., ApiClient],
    team: Team,
    member: User,
    make_user: Callable[..., User],
) -> None:
    owner = User.objects.get(username="owner")
    failed = make_item(team, owner, status="failed", error="Oxen could not make this image.")
    TeamBudget.objects.create(team=team, member_daily_limit=PRICE)
    new_request(team, member, batch=1)  # the member's day is spent; the owner's is not
    response = api_client().post(f"/api/v1/generations/{failed.public_id}/retry")
    assert response.status_code == 409, response.content
    assert "Over your daily limit" in response.json()["detail"]
    assert Generation.objects.count() == 2
