"""Budget forms: the team's budget and one member's own limits (owners and admins)."""

from __future__ import annotations

from typing import Any

from django import forms

from gallery.budget.models import MemberQuota, TeamBudget
from gallery.budget.services import BUDGET_FIELDS, QUOTA_FIELDS
from gallery.team.models import Membership


class TeamBudgetForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = TeamBudget
        fields = list(BUDGET_FIELDS)
        labels = {
            "monthly_limit": "Monthly budget (hard stop, $)",
            "approval_above": "Approval needed above ($ this month)",
            "member_daily_limit": "Each member, per day ($)",
            "member_monthly_limit": "Each member, per month ($)",
            "member_in_flight_limit": "Each member, images in progress at once",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "budget_%s")
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.widget.attrs.setdefault("placeholder", "no limit")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, value in list(data.items()):
            if value is not None and value < 0:
                self.add_error(name, "Enter zero or more, or leave it empty for no limit.")
        limit, approval = data.get("monthly_limit"), data.get("approval_above")
        if limit is not None and approval is not None and approval >= limit:
            self.add_error("approval_above", "Set the approval threshold below the monthly budget.")
        return data


class MemberQuotaForm(forms.ModelForm):  # type: ignore[type-arg]
    member = forms.ModelChoiceField(queryset=Membership.objects.none(), label="Member")

    class Meta:
        model = MemberQuota
        fields = list(QUOTA_FIELDS)
        labels = {
            "daily_limit": "Per day ($)",
            "monthly_limit": "Per month ($)",
            "in_flight_limit": "Images in progress at once",
        }

    def __init__(self, *args: Any, team_id: int, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "quota_%s")
        super().__init__(*args, **kwargs)
        member = self.fields["member"]
        assert isinstance(member, forms.ModelChoiceField)
        member.queryset = Membership.objects.filter(team_id=team_id).select_related("user")
        member.label_from_instance = _username  # type: ignore[method-assign,assignment]
        for name in QUOTA_FIELDS:
            self.fields[name].required = False
            self.fields[name].widget.attrs.setdefault("placeholder", "team default")
            self.fields[name].help_text = ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in QUOTA_FIELDS:
            value = data.get(name)
            if value is not None and value < 0:
                self.add_error(name, "Enter zero or more, or leave it empty for the default.")
        return data


def _username(membership: Membership) -> str:
    return membership.user.username
