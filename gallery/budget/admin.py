"""Admin for budgets, members' quotas, the reservation ledger and the change history. A
budget or quota saved here is recorded like one saved on the team's budget page (who, when,
old -> new); the ledger and the history are read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from gallery.accounts.models import User
from gallery.admin_scope import TeamScopedAdmin
from gallery.budget.models import BudgetChange, MemberQuota, Reservation, TeamBudget
from gallery.budget.services import BUDGET_FIELDS, QUOTA_FIELDS, changes_record


def _record(request: HttpRequest, obj: Any, fields: tuple[str, ...], subject: str) -> None:
    assert isinstance(request.user, User)
    old = type(obj).objects.filter(pk=obj.pk).first() if obj.pk else None
    changes_record(
        team_id=obj.team_id if hasattr(obj, "team_id") else obj.membership.team_id,
        changed_by=request.user,
        subject=subject,
        old={name: getattr(old, name, None) for name in fields},
        new={name: getattr(obj, name) for name in fields},
    )


@admin.register(TeamBudget)
class TeamBudgetAdmin(TeamScopedAdmin):
    list_display = ["team", *BUDGET_FIELDS, "updated_at"]
    list_select_related = ["team"]
    readonly_fields = ["alert_80_period", "alert_100_period", "updated_at"]
    autocomplete_fields = ["team"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        _record(request, obj, BUDGET_FIELDS, "team")
        super().save_model(request, obj, form, change)


@admin.register(MemberQuota)
class MemberQuotaAdmin(TeamScopedAdmin):
    team_path = "membership__"
    list_display = ["membership", *QUOTA_FIELDS, "updated_at"]
    list_select_related = ["membership__user", "membership__team"]
    raw_id_fields = ["membership"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        _record(request, obj, QUOTA_FIELDS, obj.membership.user.username)
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(TeamScopedAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["generation", "team", "member", "state", "estimate", "amount", "billed"]
    list_filter = ["state", "billed", "team"]
    list_select_related = ["generation", "team", "member"]
    date_hierarchy = "created_at"


@admin.register(BudgetChange)
class BudgetChangeAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "team", "changed_by", "subject", "field", "old", "new"]
    list_filter = ["team", "field"]
    list_select_related = ["team", "changed_by"]
