"""The spend dashboard (``/spend/``: owners and admins see the team's, members their own),
its CSV export, and the team's budget page (owners and admins)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery.budget import models as periods
from gallery.budget import services
from gallery.budget.forms import MemberQuotaForm, TeamBudgetForm
from gallery.budget.models import BudgetChange
from gallery.budget.selectors import SpendReport, charged_rows, spend_report, team_budget
from gallery.errors import ApplicationError, form_add_error
from gallery.team.access import require_membership

# The chart's drawing area, in SVG user units (it scales with the page).
CHART_WIDTH, CHART_HEIGHT, CHART_LEFT, CHART_BOTTOM = 720, 220, 48, 24


@dataclass(frozen=True)
class ChartBar:
    x: float
    y: float
    width: float
    height: float
    day: int
    amount: Decimal


@dataclass(frozen=True)
class Chart:
    bars: list[ChartBar]
    top: Decimal  # the y axis' largest value
    ticks: list[tuple[float, int]]  # (x, day of month) labels
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    left: int = CHART_LEFT
    base: int = CHART_HEIGHT - CHART_BOTTOM


def spend_chart(report: SpendReport) -> Chart:
    """Spend per day of the month as bars, scaled to the busiest day."""
    top = max((amount for _, amount in report.days), default=Decimal(0)) or Decimal("0.01")
    plot_width = CHART_WIDTH - CHART_LEFT - 8
    plot_height = CHART_HEIGHT - CHART_BOTTOM - 12
    slot = plot_width / max(1, len(report.days))
    bars, ticks = [], []
    for index, (day, amount) in enumerate(report.days):
        height = float(amount / top) * plot_height
        x = CHART_LEFT + index * slot
        bars.append(
            ChartBar(
                x=round(x + slot * 0.15, 1),
                y=round(CHART_HEIGHT - CHART_BOTTOM - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                day=day.day,
                amount=amount,
            )
        )
        if day.day == 1 or day.day % 5 == 0:
            ticks.append((round(x + slot / 2, 1), day.day))
    return Chart(bars, top, ticks)


@login_required
@require_GET
def spend(request: HttpRequest) -> HttpResponse:
    """This month's spend, or an earlier month's (``?month=2026-10``), with links to the
    month before and after."""
    membership = require_membership(request)
    this_month = periods.month()
    error = ""
    when = None
    if wanted := request.GET.get("month", ""):
        when = _month_start(wanted)
        if when is None or when > this_month.start:
            error = (
                f"There is no spend to show for “{wanted[:20]}”: "
                "months are written like 2026-10, up to this one."
            )
            when = None
    report = spend_report(membership, when=when)
    before = periods.month(report.month.start - timedelta(days=1)).start
    after = report.month.end if report.month.end <= this_month.start else None
    context = {
        "report": report,
        "chart": spend_chart(report),
        "team_wide": membership.can_manage,
        "before": before,
        "after": after,
        "error": error,
    }
    return render(request, "budget/spend.html", context, status=400 if error else 200)


def _month_start(value: str) -> datetime | None:
    """The local start of the month ``value`` names (``YYYY-MM``), or None."""
    try:
        chosen = datetime.strptime(value, "%Y-%m")  # naive: made aware below
    except ValueError:
        return None
    if chosen.year < 2000:
        return None
    return timezone.make_aware(chosen)


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
@require_GET
def spend_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every charged generation this person may see the cost of, oldest first."""
    membership = require_membership(request)
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(
            [
                "date",
                "member",
                "prompt",
                "size",
                "model",
                "upstream_id",
                "cost",
                "cost_is_estimate",
                "review_state",
            ]
        )
        for row in charged_rows(membership):
            yield writer.writerow(
                [
                    row.created_at.isoformat(),
                    row.member,
                    _csv_safe(row.prompt),
                    row.size,
                    row.model,
                    row.upstream_id,
                    f"{row.cost:.4f}",
                    "yes" if row.estimated else "no",
                    row.review_state,
                ]
            )

    stamp = timezone.localtime().strftime("%Y%m%d")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="spend-{stamp}.csv"'
    return response


def _csv_safe(text: str) -> str:
    """A prompt a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@login_required
@require_http_methods(["GET", "POST"])
def budget_settings(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    budget = team_budget(membership.team)
    form = TeamBudgetForm(request.POST if request.method == "POST" else None, instance=budget)
    if request.method == "POST" and form.is_valid():
        try:
            services.budget_update(membership=membership, **form.cleaned_data)
        except ApplicationError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, "Budget saved.")
            return redirect("team-budget")
    return _budget_page(request, membership, form=form, status=422 if form.errors else 200)


@login_required
@require_POST
def member_quota(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    form = MemberQuotaForm(request.POST, team_id=membership.team_id)
    if form.is_valid():
        target = form.cleaned_data.pop("member")
        try:
            services.member_quota_update(membership=membership, target=target, **form.cleaned_data)
        except ApplicationError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, f"Limits for {target.user.username} saved.")
            return redirect("team-budget")
    return _budget_page(request, membership, quota_form=form, status=422)


def _budget_page(
    request: HttpRequest, membership: Any, *, status: int = 200, **forms: Any
) -> HttpResponse:
    budget = team_budget(membership.team)
    context: dict[str, Any] = {
        "team": membership.team,
        "form": forms.get("form") or TeamBudgetForm(instance=budget),
        "quota_form": forms.get("quota_form") or MemberQuotaForm(team_id=membership.team_id),
        "quotas": membership.team.memberships.select_related("user", "quota").order_by(
            "user__username"
        ),
        "changes": BudgetChange.objects.filter(team_id=membership.team_id).select_related(
            "changed_by"
        )[:50],
    }
    return render(request, "budget/budget_settings.html", context, status=status)
