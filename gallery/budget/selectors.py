"""Budget reads: what is left (the generate page, the banner) and the spend dashboard's
figures and CSV rows. Owners and admins see the team's; a member sees their own."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from gallery.budget import models as periods
from gallery.budget.models import ZERO, MemberQuota, Reservation, TeamBudget
from gallery.generation.models import GalleryImage, Generation
from gallery.team.models import Membership, Team


@dataclass(frozen=True)
class Bar:
    """A limit and how much of it is used, for a progress bar."""

    label: str
    used: Decimal
    limit: Decimal
    resets: str

    @property
    def left(self) -> Decimal:
        return max(ZERO, self.limit - self.used)

    @property
    def percent(self) -> int:
        return min(100, int(self.used / self.limit * 100)) if self.limit else 100


@dataclass(frozen=True)
class BudgetSummary:
    bars: list[Bar]
    alert: int | None  # 80 or 100: the team's monthly budget passed that share this month

    @property
    def tightest(self) -> Bar | None:
        """The limit with the least left: what the generate page shows beside the estimate."""
        return min(self.bars, key=lambda bar: bar.left) if self.bars else None


def _spent(team_id: int, since: datetime, member_id: int | None = None) -> Decimal:
    rows = Reservation.objects.filter(team_id=team_id, created_at__gte=since)
    if member_id is not None:
        rows = rows.filter(member_id=member_id)
    total = sum(rows.values_list("amount", flat=True), ZERO)
    return Decimal(total)


def budget_summary(membership: Membership) -> BudgetSummary:
    """The limits that apply to this member, with what is used and when each resets."""
    budget = TeamBudget.objects.filter(team_id=membership.team_id).first()
    if budget is None:
        return BudgetSummary([], None)
    quota = MemberQuota.objects.filter(membership=membership).first()
    now = timezone.now()
    day, month = periods.day(now), periods.month(now)
    bars = []
    if budget.monthly_limit is not None:
        bars.append(
            Bar(
                "Team budget this month",
                _spent(membership.team_id, month.start),
                budget.monthly_limit,
                month.resets(now),
            )
        )
    daily = quota.daily_limit if quota and quota.daily_limit is not None else None
    daily = budget.member_daily_limit if daily is None else daily
    monthly = quota.monthly_limit if quota and quota.monthly_limit is not None else None
    monthly = budget.member_monthly_limit if monthly is None else monthly
    if daily is not None:
        used = _spent(membership.team_id, day.start, membership.user_id)
        bars.append(Bar("Your limit today", used, daily, day.resets(now)))
    if monthly is not None:
        used = _spent(membership.team_id, month.start, membership.user_id)
        bars.append(Bar("Your limit this month", used, monthly, month.resets(now)))
    this_month = month.start.date()
    alert = (
        100
        if budget.alert_100_period == this_month
        else 80
        if budget.alert_80_period == this_month
        else None
    )
    return BudgetSummary(bars, alert)


def team_budget(team: Team) -> TeamBudget:
    """The team's budget row, or an unsaved one with no limits (a GET writes nothing)."""
    return TeamBudget.objects.filter(team=team).first() or TeamBudget(team=team)


def budget_alert_level(membership: Membership) -> int | None:
    """80 or 100 when the team's monthly budget passed that share this month (the banner).
    No query when the membership was read with its team's budget (``memberships_for``)."""
    try:
        budget = membership.team.budget
    except TeamBudget.DoesNotExist:
        return None
    this_month = periods.month().start.date()
    if budget.alert_100_period == this_month:
        return 100
    return 80 if budget.alert_80_period == this_month else None


# -- the dashboard -------------------------------------------------------------------------------


def charged_generations(membership: Membership) -> QuerySet[Generation]:
    """Every generation Oxen made (and billed) that this member may see the cost of: the
    team's for owners and admins, their own for everyone else."""
    rows = Generation.objects.filter(team_id=membership.team_id).filter(
        Q(status=Generation.Status.SUCCEEDED) | Q(upstream_status="succeeded")
    )
    if not membership.can_manage:
        rows = rows.filter(request__author_id=membership.user_id)
    return rows


@dataclass(frozen=True)
class ChargedRow:
    created_at: datetime
    member: str
    prompt: str
    size: str
    model: str
    upstream_id: str
    cost: Decimal
    estimated: bool  # Oxen has not said what it billed yet: the reservation's estimate
    review_state: str


def charged_rows(
    membership: Membership, *, since: datetime | None = None, until: datetime | None = None
) -> Iterator[ChargedRow]:
    """The charged generations, oldest first, with their cost (billed, else the estimate)."""
    rows = charged_generations(membership)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    values = rows.order_by("created_at", "id").values_list(
        "created_at",
        "request__author__username",
        "request__prompt",
        "request__parameters",
        "request__model",
        "upstream_id",
        "cost",
        "reservation__estimate",
        "image__review_state",
    )
    for created, member, prompt, params, model, upstream, cost, estimate, state in values.iterator(
        chunk_size=500
    ):
        size = params.get("size", "") if isinstance(params, dict) else ""
        yield ChargedRow(
            created_at=created,
            member=member or "(removed)",
            prompt=prompt,
            size=str(size or "default"),
            model=model,
            upstream_id=upstream or "",
            cost=cost if cost is not None else (estimate or ZERO),
            estimated=cost is None,
            review_state=state or "",
        )


@dataclass
class SpendReport:
    month: periods.Period
    days: list[tuple[date, Decimal]]
    by_member: list[tuple[str, Decimal, int]]
    by_size: list[tuple[str, Decimal, int]]
    by_model: list[tuple[str, Decimal, int]]
    total: Decimal = ZERO
    estimated: Decimal = ZERO  # the part of the total that is still an estimate
    made: int = 0
    approved: int = 0
    rejected: int = 0
    bars: list[Bar] = field(default_factory=list)
    awaiting_approval: int = 0  # the team's requests held for an owner's or admin's approval
    current: bool = True  # the month is this one (the bars and approvals describe now)

    @property
    def cost_per_approved(self) -> Decimal | None:
        return (self.total / self.approved).quantize(Decimal("0.0001")) if self.approved else None


def spend_report(membership: Membership, *, when: datetime | None = None) -> SpendReport:
    """The spend of the month holding ``when`` (this month by default): per day, by member,
    size and model; images made, approved and rejected; and, for this month, the budget bars
    and the requests awaiting approval (they describe now, not a past month)."""
    month = periods.month(when)
    per_day: dict[date, Decimal] = defaultdict(lambda: ZERO)
    groups: dict[str, dict[str, list[Decimal | int]]] = {
        "member": {},
        "size": {},
        "model": {},
    }
    report = SpendReport(month, [], [], [], [], current=month == periods.month())
    for row in charged_rows(membership, since=month.start, until=month.end):
        per_day[_local_date(row.created_at)] += row.cost
        report.total += row.cost
        report.estimated += row.cost if row.estimated else ZERO
        report.made += 1
        report.approved += row.review_state == GalleryImage.ReviewState.APPROVED
        report.rejected += row.review_state == GalleryImage.ReviewState.REJECTED
        for name, key in (("member", row.member), ("size", row.size), ("model", row.model)):
            entry = groups[name].setdefault(key, [ZERO, 0])
            entry[0] = Decimal(entry[0]) + row.cost
            entry[1] = int(entry[1]) + 1
    first = month.start.date()
    last = _local_date(month.end - timedelta(hours=1))
    report.days = [
        (day, per_day.get(day, ZERO))
        for day in (date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1))
    ]

    def ordered(name: str) -> list[tuple[str, Decimal, int]]:
        items = [(key, Decimal(v[0]), int(v[1])) for key, v in groups[name].items()]
        return sorted(items, key=lambda item: (-item[1], item[0]))

    report.by_member, report.by_size, report.by_model = (
        ordered("member"),
        ordered("size"),
        ordered("model"),
    )
    if not report.current:
        return report
    report.bars = budget_summary(membership).bars
    if membership.can_manage:
        report.awaiting_approval = Generation.objects.filter(
            team_id=membership.team_id, status=Generation.Status.AWAITING_APPROVAL
        ).count()
    return report


def _local_date(moment: datetime) -> date:
    return timezone.localtime(moment).date()
