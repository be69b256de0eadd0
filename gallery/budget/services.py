"""Budget writes: the atomic check and reservation at submit, settling reservations when
generations end, the 80 %/100 % alerts, the burst limit, and budget and quota changes.

``budget_check`` runs inside the transaction that creates the generation rows, after locking
the team's ``TeamBudget`` row (``select_for_update``; on SQLite the IMMEDIATE transaction
already holds the database's write lock), so two requests can never both see the same money
left. ``budget_reserve`` writes the reservations in that same transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from gallery.accounts.models import User
from gallery.budget import models as periods
from gallery.budget.models import ZERO, BudgetChange, MemberQuota, Reservation, TeamBudget
from gallery.errors import ApplicationError
from gallery.generation.models import Generation, GenerationStatus
from gallery.mail import mail_queue
from gallery.team.models import Membership, Team

logger = logging.getLogger(__name__)

Status = GenerationStatus
ENDED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)


class BudgetExceeded(ApplicationError):
    """A request over a budget or a quota: refused before anything is created or sent."""

    status = 409  # the API's answer: the request conflicts with what is left to spend


class BurstLimited(ApplicationError):
    """Too many generate requests from one member in a minute (separate from budgets)."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"${value.quantize(Decimal('0.01'))}" if value >= 0 else f"-${-value:.2f}"


@dataclass(frozen=True)
class Decision:
    """What the check decided for a request: reserve ``per_image`` for each image now, or
    hold the rows for approval (``approval_reason`` says why, for the person to read)."""

    team_id: int
    member_id: int | None
    per_image: Decimal
    approval_reason: str = ""

    @property
    def needs_approval(self) -> bool:
        return bool(self.approval_reason)


@dataclass(frozen=True)
class Limits:
    """The limits that apply to one member: the team's, with the member's own in place of
    the team's per-member defaults."""

    monthly: Decimal | None
    approval_above: Decimal | None
    member_daily: Decimal | None
    member_monthly: Decimal | None
    member_in_flight: int | None

    @property
    def any_money(self) -> bool:
        return any(
            v is not None
            for v in (self.monthly, self.approval_above, self.member_daily, self.member_monthly)
        )


def limits_for(budget: TeamBudget | None, member: User | None) -> Limits:
    if budget is None:
        return Limits(None, None, None, None, None)
    quota = (
        MemberQuota.objects.filter(membership__team_id=budget.team_id, membership__user=member)
        .only("daily_limit", "monthly_limit", "in_flight_limit")
        .first()
        if member is not None
        else None
    )

    def own(value: object, default: object) -> object:
        return default if value is None else value

    return Limits(
        monthly=budget.monthly_limit,
        approval_above=budget.approval_above,
        member_daily=own(quota and quota.daily_limit, budget.member_daily_limit),  # type: ignore[arg-type]
        member_monthly=own(quota and quota.monthly_limit, budget.member_monthly_limit),  # type: ignore[arg-type]
        member_in_flight=own(quota and quota.in_flight_limit, budget.member_in_flight_limit),  # type: ignore[arg-type]
    )


def spent(team_id: int, since: datetime, *, member_id: int | None = None) -> Decimal:
    """What the ledger counts against a limit since ``since``: held estimates and charges."""
    rows = Reservation.objects.filter(team_id=team_id, created_at__gte=since)
    if member_id is not None:
        rows = rows.filter(member_id=member_id)
    return rows.aggregate(total=Sum("amount"))["total"] or ZERO


def budget_check(
    *,
    team: Team,
    member: User | None,
    images: int,
    cost_per_image: Decimal | None,
    approved: bool = False,
    locked: bool = True,
) -> Decision:
    """Check a request of ``images`` images against every limit, holding the team's budget
    row locked until the caller's transaction ends (call it inside ``transaction.atomic``,
    then create the rows and ``budget_reserve`` them in the same transaction).

    Raises ``BudgetExceeded`` naming the limit, what is left and when it resets; returns a
    decision that holds the rows for approval when they would pass the approval threshold
    (``approved``: an owner or admin already approved them).

    ``locked=False`` is the same check on a plain read, before the transaction: a request
    already over a limit is refused without waiting for the lock (on SQLite, the database's
    write lock), so a crowd of refused requests does not queue behind the accepted ones. Only
    the locked check decides what is reserved."""
    if locked:
        assert connection.in_atomic_block, "budget_check must run in the creating transaction"
        budget = TeamBudget.objects.select_for_update().filter(team=team).first()
    else:
        budget = TeamBudget.objects.filter(team=team).first()
    limits = limits_for(budget, member)
    if cost_per_image is None:
        if limits.any_money:
            raise BudgetExceeded(
                "Oxen does not publish a per-image price for this model, so the team's budget "
                "cannot be checked and nothing was sent. An owner or admin can clear the money "
                "limits on the team settings page."
            )
        cost_per_image = ZERO
    decision = Decision(team.pk, member.pk if member else None, cost_per_image)
    if budget is None:
        return decision
    if locked:
        reservations_settle(team_id=team.pk)
    now = timezone.now()
    cost = cost_per_image * images
    plural = "s" if images != 1 else ""
    asked = f"{images} image{plural} would cost {money(cost)}"
    if limits.member_in_flight is not None and member is not None:
        running = Generation.objects.filter(
            team=team, request__author=member, status__in=Generation.IN_FLIGHT
        ).count()
        if running + images > limits.member_in_flight:
            raise BudgetExceeded(
                f"You have {running} image{'s' if running != 1 else ''} in progress and the "
                f"limit is {limits.member_in_flight} at once per member: "
                f"{max(0, limits.member_in_flight - running)} more can start now. It frees up "
                "as they finish."
            )
    member_id = member.pk if member else None
    checks: list[tuple[Decimal | None, periods.Period, int | None, str]] = [
        (limits.monthly, periods.month(now), None, "the team's monthly budget"),
    ]
    if member_id is not None:
        checks[:0] = [
            (limits.member_daily, periods.day(now), member_id, "your daily limit"),
            (limits.member_monthly, periods.month(now), member_id, "your monthly limit"),
        ]
    for limit, period, who, name in checks:
        if limit is None:
            continue
        used = spent(team.pk, period.start, member_id=who)
        if used + cost > limit:
            left = max(ZERO, limit - used)
            raise BudgetExceeded(
                f"Over {name} of {money(limit)}: {asked}, and {money(left)} is left. "
                f"It resets {period.resets(now)}."
            )
    if limits.approval_above is not None and not approved:
        month = periods.month(now)
        used = spent(team.pk, month.start)
        if used + cost > limits.approval_above:
            return Decision(
                team.pk,
                member_id,
                cost_per_image,
                approval_reason=(
                    f"Waiting for an owner's or admin's approval: {asked}, which takes the "
                    f"team's spend this month ({money(used)}) past {money(limits.approval_above)}, "
                    "above which each request is approved before it is sent."
                ),
            )
    return decision


def budget_reserve(*, decision: Decision, generations: Sequence[Generation]) -> None:
    """Reserve the estimate of each generation (in the transaction ``budget_check`` ran in),
    then send any alert the new total calls for."""
    now = timezone.now()
    Reservation.objects.bulk_create(
        Reservation(
            team_id=decision.team_id,
            member_id=decision.member_id,
            generation=generation,
            estimate=decision.per_image,
            amount=decision.per_image,
            created_at=now,
        )
        for generation in generations
    )
    budget_alerts(team_id=decision.team_id)


# -- settling ------------------------------------------------------------------------------------


def _unsettled() -> Q:
    """Reservations that no longer match their generation (checked for the rows named)."""
    return (
        _held_and_ended()
        | Q(state=Reservation.State.CHARGED, billed=False, generation__cost__isnull=False)
        | (Q(state=Reservation.State.CHARGED, billed=True) & ~Q(amount=F("generation__cost")))
        | Q(state=Reservation.State.RELEASED, generation__upstream_status="succeeded")
    )


def _held_and_ended() -> Q:
    # Held reservations are few (the partial index ``reservation_held_idx``): the sweep's query.
    return Q(state=Reservation.State.HELD) & (
        Q(generation__status__in=ENDED) | Q(generation__upstream_status="succeeded")
    )


def reservations_settle(
    *,
    team_id: int | None = None,
    generation_ids: Iterable[int] | None = None,
    billed_unknown: bool = False,
    limit: int = 500,
) -> int:
    """True up reservations whose generation moved on: a result Oxen made is charged (its
    billed cost, the estimate until Oxen says), one that ended with nothing billed is released.

    Without ``generation_ids`` only held reservations are looked at (cheap: the sweep runs it
    every two seconds), plus, with ``billed_unknown``, charges whose billed cost has since
    arrived (the back-fill). Safe to run any number of times; returns how many changed."""
    if generation_ids is not None:
        rows = Reservation.objects.filter(_unsettled(), generation_id__in=list(generation_ids))
    else:
        condition = _held_and_ended()
        if billed_unknown:
            condition |= Q(
                state=Reservation.State.CHARGED, billed=False, generation__cost__isnull=False
            )
        rows = Reservation.objects.filter(condition)
    if team_id is not None:
        rows = rows.filter(team_id=team_id)
    raised: set[int] = set()
    count = 0
    now = timezone.now()
    for reservation in rows.select_related("generation")[:limit]:
        g = reservation.generation
        if g.status == Status.SUCCEEDED or g.upstream_status == "succeeded":
            update: dict[str, Any] = {
                "state": Reservation.State.CHARGED,
                "amount": g.cost if g.cost is not None else reservation.estimate,
                "billed": g.cost is not None,
            }
        elif g.status in ENDED:
            update = {"state": Reservation.State.RELEASED, "amount": ZERO, "billed": False}
        else:
            continue
        Reservation.objects.filter(pk=reservation.pk).update(**update, settled_at=now)
        if update["amount"] > reservation.amount:  # only a rise can cross an alert level
            raised.add(reservation.team_id)
        count += 1
    if team_id is None:
        for team in raised:
            budget_alerts(team_id=team)
    return count


# -- alerts --------------------------------------------------------------------------------------

ALERT_LEVELS = (80, 100)


def budget_alerts(*, team_id: int) -> list[int]:
    """Email the team's owners and admins (after commit) when this month's spend reaches 80 %
    or 100 % of the monthly budget, once per level per month. Returns the levels sent."""
    now = timezone.now()
    month = periods.month(now)
    with transaction.atomic():
        budget = TeamBudget.objects.select_for_update().filter(team_id=team_id).first()
        if budget is None or not budget.monthly_limit:
            return []
        used = spent(team_id, month.start)
        share = used / budget.monthly_limit * 100
        sent = []
        for level in ALERT_LEVELS:
            field = f"alert_{level}_period"
            if share >= level and getattr(budget, field) != month.start.date():
                setattr(budget, field, month.start.date())
                sent.append(level)
        if not sent:
            return []
        budget.save(update_fields=[f"alert_{level}_period" for level in sent])
        level = max(sent)
        team = Team.objects.get(pk=team_id)
        recipients = list(
            User.objects.filter(
                memberships__team_id=team_id,
                memberships__role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
                is_active=True,
            )
            .exclude(email="")
            .values_list("email", flat=True)
        )
        subject = f"{team.name} has used {level}% of its monthly image budget"
        body = (
            f"{team.name} has spent {money(used)} of its {money(budget.monthly_limit)} monthly "
            f"budget for Seedream images ({share:.0f}%).\n\n"
            + (
                "New requests are refused until the budget resets"
                if level >= 100
                else "Requests are refused once the budget is used up; it resets"
            )
            + f" on {timezone.localtime(month.end):%Y-%m-%d}.\n\n"
            f"The spend dashboard: {settings.SITE_URL}/spend/\n"
        )
        mail_queue(subject, body, recipients)
        logger.info("budget alert %s%% for team %s sent to %d", level, team_id, len(recipients))
    return sent


# -- the burst limit -----------------------------------------------------------------------------


def burst_check(*, membership: Membership) -> None:
    """Count one generate request of this member in the current minute; past
    ``GENERATE_BURST_PER_MINUTE`` raise ``BurstLimited`` (the view answers 429)."""
    allowed = settings.GENERATE_BURST_PER_MINUTE
    if not allowed:
        return
    now = timezone.now()
    window = int(now.timestamp() // 60)
    key = f"budget:burst:{membership.pk}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    if count > allowed:
        wait = 60 - int(now.timestamp()) % 60
        raise BurstLimited(
            f"Too many generate requests: at most {allowed} a minute per member. Nothing was "
            f"sent for this one; try again in {wait} seconds.",
            retry_after=wait,
        )


# -- budget and quota changes --------------------------------------------------------------------

BUDGET_FIELDS = (
    "monthly_limit",
    "approval_above",
    "member_daily_limit",
    "member_monthly_limit",
    "member_in_flight_limit",
)
QUOTA_FIELDS = ("daily_limit", "monthly_limit", "in_flight_limit")


def _text(value: object) -> str:
    """A limit as the history shows it: money to the cent, empty for no limit."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    return "" if value is None else str(value)


def budget_get(team: Team) -> TeamBudget:
    budget, _ = TeamBudget.objects.get_or_create(team=team)
    return budget


def changes_record(
    *,
    team_id: int,
    changed_by: User | None,
    subject: str,
    old: dict[str, object],
    new: dict[str, object],
) -> list[BudgetChange]:
    """Record each field whose value changes: who, when, old -> new."""
    changes = [
        BudgetChange(
            team_id=team_id,
            changed_by=changed_by,
            subject=subject,
            field=name,
            old=_text(old.get(name)),
            new=_text(value),
        )
        for name, value in new.items()
        if _text(old.get(name)) != _text(value)
    ]
    return BudgetChange.objects.bulk_create(changes)


@transaction.atomic
def budget_update(*, membership: Membership, **values: object) -> TeamBudget:
    """Set the team's budget (owners and admins), recording each change."""
    if not membership.can_manage:
        raise BudgetExceeded("Only team owners and admins can set budgets.")
    budget_get(membership.team)
    budget = TeamBudget.objects.select_for_update().get(team_id=membership.team_id)
    new = {name: values[name] for name in BUDGET_FIELDS if name in values}
    old = {name: getattr(budget, name) for name in new}
    if changes_record(
        team_id=budget.team_id, changed_by=membership.user, subject="team", old=old, new=new
    ):
        for name, value in new.items():
            setattr(budget, name, value)
        budget.full_clean()
        budget.save()
    return budget


@transaction.atomic
def member_quota_update(
    *, membership: Membership, target: Membership, **values: object
) -> MemberQuota:
    """Set one member's own limits (empty: the team's default), recording each change."""
    if not membership.can_manage or target.team_id != membership.team_id:
        raise BudgetExceeded("Only team owners and admins can set members' limits.")
    budget_get(membership.team)
    quota, _ = MemberQuota.objects.select_for_update().get_or_create(membership=target)
    new = {name: values[name] for name in QUOTA_FIELDS if name in values}
    old = {name: getattr(quota, name) for name in new}
    if changes_record(
        team_id=target.team_id,
        changed_by=membership.user,
        subject=target.user.username,
        old=old,
        new=new,
    ):
        for name, value in new.items():
            setattr(quota, name, value)
        quota.full_clean()
        quota.save()
    return quota
