"""Budgets and quotas, the reservation ledger that enforces them, and their change history.

The team's ``TeamBudget`` row is the lock every reservation takes (``select_for_update``; on
SQLite the IMMEDIATE transaction's write lock), so the check and the reservation happen as one
step however many requests arrive at once. A ``Reservation`` holds the estimate of one
generation while it is in flight and is trued up when it ends: the billed cost replaces the
estimate, or it is released (amount 0) when nothing was billed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

from gallery.accounts.models import User
from gallery.generation.models import Generation
from gallery.team.models import Membership, Team


def money_field(help_text: str = "") -> Any:
    """An optional amount of money (empty: no limit)."""
    return models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text=help_text
    )


class TeamBudget(models.Model):
    """A team's limits (empty: no limit) and which alerts were sent for which month."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="budget")
    monthly_limit = money_field("Hard stop: nothing is sent past this much in a calendar month.")
    approval_above = money_field(
        "Requests that would take this month's spend past this wait for an owner's "
        "or admin's approval.",
    )
    member_daily_limit = money_field("Per member, per day.")
    member_monthly_limit = money_field("Per member, per month.")
    member_in_flight_limit = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Images one member may have in progress at once."
    )
    # The first day of the month each alert was last sent for: sent once per period.
    alert_80_period = models.DateField(null=True, blank=True, editable=False)
    alert_100_period = models.DateField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"budget of {self.team}"


class MemberQuota(models.Model):
    """One member's own limits, in place of the team's per-member defaults (empty: default)."""

    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="quota")
    daily_limit = money_field()
    monthly_limit = money_field()
    in_flight_limit = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"quota of {self.membership}"


class Reservation(models.Model):
    """What one generation counts against its team's and author's limits.

    ``amount`` is the estimate while held, what Oxen billed once charged (the estimate until
    Oxen says: ``billed`` False), and 0 once released."""

    class State(models.TextChoices):
        HELD = "held", "Reserved"
        CHARGED = "charged", "Charged"
        RELEASED = "released", "Released"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="reservations")
    member = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    generation = models.OneToOneField(
        Generation, on_delete=models.CASCADE, related_name="reservation"
    )
    estimate = models.DecimalField(max_digits=10, decimal_places=4)
    amount = models.DecimalField(max_digits=10, decimal_places=4)
    state = models.CharField(max_length=10, choices=State.choices, default=State.HELD)
    billed = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "created_at"], name="reservation_team_created_idx"),
            models.Index(
                fields=["team", "member", "created_at"], name="reservation_member_created_idx"
            ),
            # The settling sweep's query: reservations still held.
            models.Index(
                fields=["state"], name="reservation_held_idx", condition=models.Q(state="held")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} for generation {self.generation_id} ({self.state})"


class BudgetChange(models.Model):
    """One change to a budget or a quota: who, when, old -> new."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="budget_changes")
    changed_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)
    subject = models.CharField(max_length=200)  # "team" or the member's username
    field = models.CharField(max_length=50)
    old = models.CharField(max_length=50, blank=True)
    new = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.subject} {self.field}: {self.old or '—'} → {self.new or '—'}"


ZERO = Decimal("0")


# -- periods: the calendar day and month in the server's TIME_ZONE, what limits count over --


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # when the next period starts: the limit resets then

    def resets(self, now: datetime) -> str:
        """When the limit resets, as a person reads it: the date and time, and how soon."""
        left = self.end - now
        hours = int(left.total_seconds() // 3600)
        soon = f"in {hours} h" if hours < 48 else f"in {left.days} days"
        return f"{timezone.localtime(self.end):%Y-%m-%d %H:%M %Z} ({soon})"


def day(now: datetime | None = None) -> Period:
    local = timezone.localtime(now or timezone.now())
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return Period(start, _midnight(start.date() + timedelta(days=1)))


def month(now: datetime | None = None) -> Period:
    local = timezone.localtime(now or timezone.now())
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start.date().replace(day=28) + timedelta(days=4)).replace(day=1)
    return Period(start, _midnight(following))


def _midnight(on: date) -> datetime:
    return timezone.make_aware(datetime(on.year, on.month, on.day))
