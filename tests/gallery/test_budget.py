"""Budgets and quotas (issue 11): every limit refuses before anything is created or sent,
says which limit, what is left and when it resets; Retry, Re-run and batch sizes go through the
same check; the approval threshold holds a request for an owner or admin; the burst limit
answers 429; costs are back-filled and reservations trued up; alerts go out once per period;
every change is recorded."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from gallery.accounts.models import User
from gallery.budget import services
from gallery.budget.models import BudgetChange, MemberQuota, Reservation, TeamBudget
from gallery.budget.services import BudgetExceeded
from gallery.generation import track
from gallery.generation.lifecycle import generation_fail
from gallery.generation.models import Generation, GenerationRequest
from gallery.generation.retry import generation_retry
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add
from seedream.simulator import Simulator
from tests.conftest import drive, ids, mail_deliver, new_request
from tests.factories import make_image, make_item

pytestmark = pytest.mark.django_db
PRICE = Decimal("0.04")  # the simulator's published cost_per_image
HX = {"HTTP_HX_REQUEST": "true"}


def _budget(team: Team, **limits: Any) -> TeamBudget:
    return TeamBudget.objects.create(team=team, **limits)


def _owner() -> User:
    return User.objects.get(username="owner")


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- the team budget and batch sizes -------------------------------------------------------------


def test_a_batch_over_the_budget_is_refused_whole_with_what_is_left_and_when_it_resets(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    _budget(team, monthly_limit=PRICE * 3)
    with pytest.raises(BudgetExceeded) as refused:
        new_request(team, member, batch=4)
    message = refused.value.message
    assert "Over the team's monthly budget of $0.12" in message
    assert "4 images would cost $0.16" in message and "$0.12 is left" in message
    assert "It resets " in message
    assert not GenerationRequest.objects.exists() and not Reservation.objects.exists()
    assert oxen_sim.counters().get("POST /api/ai/queue", 0) == 0
    made = new_request(team, member, batch=3)
    assert Reservation.objects.filter(generation__request=made).count() == 3
    with pytest.raises(BudgetExceeded, match=r"\$0.00 is left"):
        new_request(team, member, batch=1)


def test_the_generate_form_shows_the_refusal_and_what_is_left_beside_the_estimate(
    oxen_sim: Simulator, team: Team, member: User, member_client: Client
) -> None:
    _budget(team, monthly_limit=PRICE * 2)
    page = member_client.get("/generate/").content.decode()
    assert "Estimated cost" in page
    assert "Team budget this month: <strong>$0.40" not in page
    assert "<strong>$0.08</strong> left of $0.08" in page
    refused = member_client.post(
        "/generate/", {"prompt": "three foxes", "batch_size": "3", "p_size": "2K"}
    )
    assert refused.status_code == 422
    body = refused.content.decode()
    assert "monthly budget of $0.08" in body and "three foxes" in body  # nothing lost
    assert not Generation.objects.exists()


# -- members' limits -----------------------------------------------------------------------------


def test_a_members_daily_limit_refuses_them_and_not_their_teammates(
    oxen_sim: Simulator, team: Team, member: User, make_user: Any
) -> None:
    _budget(team, member_daily_limit=PRICE * 2)
    new_request(team, member, batch=2)
    with pytest.raises(BudgetExceeded) as refused:
        new_request(team, member, batch=1)
    assert "Over your daily limit of $0.08" in refused.value.message
    assert "$0.00 is left" in refused.value.message and "It resets " in refused.value.message
    other = make_user("other")
    membership_add(team=team, user=other)
    new_request(team, other, batch=2)  # their own day


def test_a_members_own_monthly_limit_replaces_the_teams_default(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    _budget(team, member_monthly_limit=PRICE * 4)
    quota = MemberQuota.objects.create(
        membership=Membership.objects.get(team=team, user=member), monthly_limit=PRICE
    )
    new_request(team, member, batch=1)
    with pytest.raises(BudgetExceeded, match=r"Over your monthly limit of \$0\.04"):
        new_request(team, member, batch=1)
    quota.monthly_limit = None  # back to the team's default
    quota.save()
    new_request(team, member, batch=3)


def test_the_in_flight_cap_counts_images_in_progress_and_frees_up_as_they_finish(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    _budget(team, member_in_flight_limit=2)
    first = new_request(team, member, batch=2)
    with pytest.raises(BudgetExceeded, match="You have 2 images in progress"):
        new_request(team, member, batch=1)
    drive(ids(first))
    new_request(team, member, batch=2)


# -- Retry and Re-run go through the same check --------------------------------------------------


def test_retry_cannot_bypass_the_budget(
    oxen_sim: Simulator, team: Team, member: User, member_client: Client
) -> None:
    failed = make_item(team, member, status="failed", error="Oxen could not make this image.")
    _budget(team, monthly_limit=PRICE)
    new_request(team, member, batch=1)  # the budget is spent
    with pytest.raises(BudgetExceeded):
        generation_retry(generation_id=failed.pk, by=member)
    response = member_client.post(f"/items/{failed.public_id}/retry/", **HX)
    assert response.status_code == 200
    assert "monthly budget of $0.04" in response.content.decode()  # on the tile, why
    assert Generation.objects.count() == 2


def test_a_failure_before_billing_releases_its_reservation_and_retry_reserves_again(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    _budget(team, monthly_limit=PRICE)
    (pk,) = ids(new_request(team, member, batch=1))
    generation_fail(generation_id=pk, message="refused")
    reservation = Reservation.objects.get(generation_id=pk)
    assert (reservation.state, reservation.amount) == ("released", 0)
    retry = generation_retry(generation_id=pk, by=member)
    assert Reservation.objects.get(generation=retry).amount == PRICE
    drive([retry.pk])
    charged = Reservation.objects.get(generation=retry)
    assert (charged.state, charged.amount, charged.billed) == ("charged", PRICE, True)


def test_rerun_cannot_bypass_the_budget(
    oxen_sim: Simulator, team: Team, member: User, member_client: Client
) -> None:
    _budget(team, monthly_limit=PRICE * 2)
    original = new_request(team, member, batch=2)
    response = member_client.post(f"/requests/{original.public_id}/rerun/", follow=True)
    assert "monthly budget of $0.08" in response.content.decode()
    assert GenerationRequest.objects.count() == 1


# -- needs approval ------------------------------------------------------------------------------


def test_over_the_approval_threshold_a_request_waits_and_an_admin_approves_or_declines(
    oxen_sim: Simulator,
    team: Team,
    member: User,
    member_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    _budget(team, approval_above=PRICE, monthly_limit=PRICE * 10)
    first = new_request(team, member, batch=1)  # up to the threshold: sent
    with django_capture_on_commit_callbacks() as callbacks:
        held = new_request(team, member, batch=2)
    assert callbacks == []  # nothing queued, nothing sent
    rows = list(held.generations.order_by("index"))
    assert {g.status for g in rows} == {"approval"}
    assert "Waiting for an owner's or admin's approval" in rows[0].last_error
    assert not Reservation.objects.filter(generation__in=rows).exists()
    tile = member_client.get(f"/items/{rows[0].public_id}/tile/").content.decode()
    assert "Needs approval" in tile and "above which each request is approved" in tile
    # A member cannot approve; an owner can, and it is reserved and sent.
    assert member_client.post(f"/items/{rows[0].public_id}/approve/", **HX).status_code == 404
    owner = _client(_owner())
    assert "2 images</strong> wait for your approval" in owner.get("/spend/").content.decode()
    waiting = owner.get("/?status=approval").content.decode()
    assert waiting.count("Needs approval</strong>") == 2 and ">Approve</button>" in waiting
    assert waiting.count('name="reason"') == 2  # a decline can say why
    with django_capture_on_commit_callbacks(execute=True):
        approved = owner.post(f"/items/{rows[0].public_id}/approve/", **HX)
    assert approved.status_code == 200
    rows[0].refresh_from_db()
    assert rows[0].status != "approval" and rows[0].last_error == ""
    assert Reservation.objects.get(generation=rows[0]).amount == PRICE
    owner.post(f"/items/{rows[1].public_id}/decline/", {"reason": "not this month"}, **HX)
    rows[1].refresh_from_db()
    assert rows[1].status == "cancelled"
    assert rows[1].last_error == "Declined by owner: not this month"
    drive([*ids(first), rows[0].pk])
    assert oxen_sim.counters()["POST /api/ai/queue"] == 2


def test_approval_still_respects_the_hard_limit(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    from gallery.generation.retry import generation_approve

    budget = _budget(team, approval_above=Decimal(0), monthly_limit=PRICE * 5)
    (pk,) = ids(new_request(team, member, batch=1))
    budget.monthly_limit = Decimal(0)
    budget.save()
    with pytest.raises(BudgetExceeded):
        generation_approve(generation_id=pk, by=_owner())
    assert Generation.objects.get(pk=pk).status == "approval"


# -- the burst limit -----------------------------------------------------------------------------


def test_the_burst_limit_answers_429_with_a_clear_message(
    oxen_sim: Simulator, team: Team, member: User, member_client: Client, settings: Any
) -> None:
    settings.GENERATE_BURST_PER_MINUTE = 2
    form = {"prompt": "a heron", "batch_size": "1", "p_size": "2K"}
    assert member_client.post("/generate/", form).status_code == 302
    assert member_client.post("/generate/", form).status_code == 302
    third = member_client.post("/generate/", form)
    assert third.status_code == 429
    assert int(third["Retry-After"]) <= 60
    body = third.content.decode()
    assert "Too many generate requests: at most 2 a minute per member" in body
    assert "a heron" in body  # the form as it was
    assert Generation.objects.count() == 2
    failed = make_item(team, member, status="failed")
    retry = member_client.post(f"/items/{failed.public_id}/retry/", **HX)
    assert retry.status_code == 429 and "Too many generate requests" in retry.content.decode()
    assert f'id="tile-{failed.public_id}"' in retry.content.decode()  # htmx swaps the tile
    rerun = member_client.post(f"/requests/{failed.request.public_id}/rerun/")
    assert rerun.status_code == 429
    assert Generation.objects.count() == 3


# -- costs: true-up and back-fill ----------------------------------------------------------------


def test_the_billed_cost_replaces_the_estimate_and_is_back_filled_when_oxen_was_late(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    made = ids(new_request(team, member, batch=2))
    drive(made)
    assert set(Reservation.objects.values_list("state", "billed")) == {("charged", True)}
    # Oxen did not say at ingest: the cost stays unknown, the estimate counts meanwhile.
    Generation.objects.filter(pk__in=made).update(
        cost=None, updated_at=timezone.now() - timedelta(minutes=5)
    )
    Reservation.objects.update(billed=False, amount=Decimal("0.05"))
    assert services.reservations_settle() == 0  # nothing billed to true up to yet
    assert track.costs_backfill() == 2
    assert set(Generation.objects.values_list("cost", flat=True)) == {PRICE}
    assert set(Reservation.objects.values_list("amount", "billed")) == {(PRICE, True)}


def test_the_back_fill_runs_on_beat(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["budget-costs-backfill"]
    assert entry["task"] == "gallery.tasks.budget_costs_backfill"


# -- alerts --------------------------------------------------------------------------------------


def test_alerts_at_80_and_100_percent_go_out_once_per_month(
    oxen_sim: Simulator,
    team: Team,
    member: User,
    member_client: Client,
    django_capture_on_commit_callbacks: Any,
    mail_queued: list[Any],
) -> None:
    owner = _owner()
    owner.email = "owner@example.com"
    owner.save()
    member.email = "member@example.com"
    member.save()
    _budget(team, monthly_limit=PRICE * 5)
    with django_capture_on_commit_callbacks(execute=True):
        new_request(team, member, batch=3)  # 60 %
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        new_request(team, member, batch=1)  # 80 %
    # The request only queued it: a slow SMTP server never holds a web thread.
    assert mail.outbox == [] and len(mail_queued) == 1
    mail_deliver(mail_queued)
    assert [m.subject for m in mail.outbox] == ["Design has used 80% of its monthly image budget"]
    assert mail.outbox[0].to == ["owner@example.com"]  # owners and admins only
    page = member_client.get("/").content.decode()
    assert "The team has used 80% of its monthly image budget" in page
    with django_capture_on_commit_callbacks(execute=True):
        new_request(team, member, batch=1)  # 100 %
        assert services.budget_alerts(team_id=team.pk) == []  # once per period
        with pytest.raises(BudgetExceeded):
            new_request(team, member, batch=1)
    mail_deliver(mail_queued)
    assert len(mail.outbox) == 2 and "100%" in mail.outbox[1].subject
    assert "new requests are refused" in mail.outbox[1].body.lower()
    assert "monthly image budget is used up" in member_client.get("/").content.decode()
    # Next month: a new period, the alerts may go out again.
    TeamBudget.objects.filter(team=team).update(
        alert_80_period=timezone.now().date() - timedelta(days=40),
        alert_100_period=timezone.now().date() - timedelta(days=40),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.budget_alerts(team_id=team.pk) == [80, 100]
    mail_deliver(mail_queued)
    assert len(mail.outbox) == 3


# -- budget changes, the budget page and the admin -----------------------------------------------


def test_owners_set_budgets_on_the_budget_page_and_every_change_is_recorded(
    team: Team, member: User, member_client: Client
) -> None:
    owner = _client(_owner())
    assert member_client.get("/team/budget/").status_code == 404
    assert owner.get("/team/budget/").status_code == 200
    assert not TeamBudget.objects.exists()  # a GET writes nothing
    saved = owner.post(
        "/team/budget/", {"monthly_limit": "50", "approval_above": "40", "member_daily_limit": ""}
    )
    assert saved.status_code == 302
    owner.post("/team/budget/", {"monthly_limit": "60", "approval_above": "40"})
    refused = owner.post("/team/budget/", {"monthly_limit": "10", "approval_above": "40"})
    assert refused.status_code == 422  # the threshold must be below the budget
    membership = Membership.objects.get(team=team, user=member)
    owner.post("/team/budget/members/", {"member": membership.pk, "daily_limit": "2.50"})
    changes = [
        (c.changed_by.username, c.subject, c.field, c.old, c.new)
        for c in BudgetChange.objects.order_by("id")
    ]
    assert changes == [
        ("owner", "team", "monthly_limit", "", "50.00"),
        ("owner", "team", "approval_above", "", "40.00"),
        ("owner", "team", "monthly_limit", "50.00", "60.00"),
        ("owner", "member", "daily_limit", "", "2.50"),
    ]
    page = owner.get("/team/budget/").content.decode()
    assert "monthly_limit" in page and "50.00" in page


def test_a_budget_changed_in_the_admin_is_recorded(team: Team) -> None:
    owner = _owner()
    owner.is_staff = owner.is_superuser = True
    owner.save()
    budget = _budget(team, monthly_limit=Decimal("5.00"))
    response = _client(owner).post(
        f"/admin/gallery/teambudget/{budget.pk}/change/",
        {"team": team.pk, "monthly_limit": "7.50", "member_in_flight_limit": "3"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert [(c.field, c.old, c.new) for c in BudgetChange.objects.order_by("id")] == [
        ("monthly_limit", "5.00", "7.50"),
        ("member_in_flight_limit", "", "3"),
    ]


# -- the dashboard and its CSV -------------------------------------------------------------------


def test_the_csv_lists_every_charged_generation_as_the_database_has_it(
    team: Team, member: User, member_client: Client, make_user: Any, media_storage: Any
) -> None:
    other = make_user("other")
    membership_add(team=team, user=other)
    make_image(team, member, prompt="=SUM(A1)", state="approved")
    make_image(team, member, prompt="a pending owl", state="pending", size="4K")
    make_image(team, other, prompt="a rejected crow", state="rejected")
    make_item(team, member, status="failed")  # not charged
    team_rows = _csv(_client(_owner()).get("/spend/export.csv"))
    charged = Generation.objects.filter(status="succeeded").select_related("request", "image")
    assert sorted((r["upstream_id"], r["cost"], r["review_state"]) for r in team_rows) == sorted(
        (g.upstream_id, f"{g.cost:.4f}", g.image.review_state) for g in charged
    )
    assert {r["member"] for r in team_rows} == {"member", "other"}
    assert "'=SUM(A1)" in {r["prompt"] for r in team_rows}  # not a formula in a spreadsheet
    assert {r["size"] for r in team_rows} == {"2K", "4K"}
    own = _csv(member_client.get("/spend/export.csv"))
    assert {r["member"] for r in own} == {"member"} and len(own) == 2


def test_the_dashboard_shows_the_chart_and_the_cost_per_approved_image(
    team: Team, member: User, member_client: Client, media_storage: Any
) -> None:
    _budget(team, monthly_limit=Decimal("10"))
    for state in ("approved", "approved", "rejected"):
        make_image(team, member, state=state)
    page = _client(_owner()).get("/spend/").content.decode()
    assert "<svg" in page and "data-spend-chart" in page
    assert "data-cost-per-approved>$0.06<" in page  # $0.12 over 2 approved
    assert "Team budget this month" in page
    assert member_client.get("/spend/").status_code == 200


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_migration_puts_what_oxen_already_billed_in_the_ledger(
    team: Team, member: User
) -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("gallery.migrations.0008_spend_budget")
    billed = make_item(team, member, status="succeeded")  # cost 0.04
    unknown = make_item(team, member, status="failed")
    Generation.objects.filter(pk=unknown.pk).update(upstream_status="succeeded")
    make_item(team, member, status="failed")  # nothing billed: nothing counted
    migration.reservations_for_billed_generations(apps, None)
    rows = {r.generation_id: r for r in Reservation.objects.all()}
    assert set(rows) == {billed.pk, unknown.pk}
    assert (rows[billed.pk].amount, rows[billed.pk].billed) == (PRICE, True)
    assert (rows[unknown.pk].amount, rows[unknown.pk].billed) == (0, False)
    assert {r.state for r in rows.values()} == {"charged"}


# -- prices by size ------------------------------------------------------------------------------


def _grid_schema(model: str) -> Any:
    from gallery.oxen import get_schema
    from seedream.schema import RequestSchema

    live = get_schema(model=model)
    return RequestSchema(
        live.raw,
        cost_per_image=live.cost_per_image,
        cost_per_image_grid={"high": {"4K": PRICE * 2}},
    )


def test_a_model_that_prices_4k_higher_reserves_and_refuses_at_the_4k_price(
    oxen_sim: Simulator, team: Team, member: User, settings: Any
) -> None:
    from gallery.generation.create import generation_request_create

    schema = _grid_schema(settings.OXEN_MODEL)
    _budget(team, monthly_limit=PRICE * 3)

    def make(size: str) -> GenerationRequest:
        return generation_request_create(
            team=team,
            author=member,
            prompt="a lighthouse at dusk",
            parameters={"size": size},
            references=[],
            batch_size=2,
            schema=schema,
            model=settings.OXEN_MODEL,
        )

    with pytest.raises(BudgetExceeded, match=r"2 images would cost \$0.16"):
        make("4K")
    made = make("2K")  # the flat price: 2 x $0.04 fits
    assert {r.estimate for r in Reservation.objects.filter(generation__request=made)} == {PRICE}


def test_the_form_estimates_at_the_price_of_the_size_chosen(
    oxen_sim: Simulator, member_client: Client, settings: Any
) -> None:
    from django.core.cache import cache

    from gallery.generation.models import StoredSchema
    from gallery.oxen import _SCHEMA_FAILURE_KEY

    schema = _grid_schema(settings.OXEN_MODEL)
    StoredSchema.objects.update_or_create(
        model=settings.OXEN_MODEL,
        defaults={"schema": schema.as_json(), "fetched_at": timezone.now()},
    )
    cache.set(_SCHEMA_FAILURE_KEY.format(model=settings.OXEN_MODEL), True)  # Oxen is down
    page = member_client.get("/generate/").content.decode()
    assert 'data-cost-by-size="2K=0.04;4K=0.08"' in page
    # A form sent back (no prompt) keeps its size and batch, and prices them: 3 x the 4K price.
    refused = member_client.post("/generate/", {"prompt": "", "batch_size": "3", "p_size": "4K"})
    html = refused.content.decode()
    assert refused.status_code == 422
    assert "Estimated cost <output data-cost-total>$0.24</output>" in html


def test_the_dashboard_shows_an_earlier_month_and_links_the_months_around_it(
    team: Team, member: User, member_client: Client, media_storage: Any
) -> None:
    """Issue 11's dashboard showed only the current month: ``?month=YYYY-MM`` shows another,
    with its own figures and no budget bars (they describe now), and a month to come or a
    malformed one is refused in words."""
    _budget(team, monthly_limit=Decimal("10"))
    now = timezone.localtime()
    this_month = now.replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=10)
    for state in ("approved", "rejected"):
        image = make_image(team, member, state=state, prompt=f"old {state}")
        Generation.objects.filter(pk=image.generation_id).update(created_at=last_month)
    make_image(team, member, state="approved", prompt="new")
    owner = _client(_owner())

    current = owner.get("/spend/").content.decode()
    assert re.search(r"Images made</span><strong>1<", current)
    assert f'href="?month={last_month:%Y-%m}" rel="prev"' in current
    assert 'rel="next"' not in current and "Team budget this month" in current

    earlier = owner.get(f"/spend/?month={last_month:%Y-%m}")
    page = earlier.content.decode()
    assert earlier.status_code == 200
    assert f"Spend in {last_month:%B %Y}" in page
    assert re.search(r"Images made</span><strong>2<", page)
    assert re.search(r"Approved</span><strong>1<", page)
    assert f'href="?month={this_month:%Y-%m}" rel="next"' in page
    assert "Team budget this month" not in page

    for wrong in ("2026-13", "soon", f"{this_month.year + 1}-01"):
        refused = owner.get("/spend/", {"month": wrong})
        assert refused.status_code == 400, wrong
        assert "months are written like 2026-10" in refused.content.decode()
