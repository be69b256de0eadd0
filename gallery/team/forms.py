"""Team forms: invitations, accounts made by an admin, sign-up, policy."""

from __future__ import annotations

from typing import Any

from django import forms

from gallery.team import services as team_services
from gallery.team.models import Membership, Team

ROLE_CHOICES = [
    (role.value, role.label) for role in Membership.Role if role in team_services.GRANTABLE_ROLES
]


class InvitationForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Membership.Role.MEMBER)
    days = forms.IntegerField(min_value=1, max_value=30, initial=7, label="Valid for (days)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Its own ids: the team page also shows MemberCreateForm, which has a "role" too.
        kwargs.setdefault("auto_id", "invite_%s")
        super().__init__(*args, **kwargs)


class MemberCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=True), help_text="Share it with them privately."
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Membership.Role.MEMBER)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "member_%s")
        super().__init__(*args, **kwargs)


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput)


class TeamPolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Team
        fields = [
            "pending_visible_to_team",
            "share_requires_approval",
            "share_default_expiry_days",
            "share_max_expiry_days",
        ]
        labels = {
            "pending_visible_to_team": "Members see images that are not yet approved",
            "share_requires_approval": "Only approved images may be shared",
            "share_default_expiry_days": "Default link expiry (days)",
            "share_max_expiry_days": "Longest link expiry allowed (days)",
        }
        help_texts = {
            "pending_visible_to_team": (
                "Off: pending images are seen only by their author, owners, admins and reviewers."
            ),
            "share_requires_approval": (
                "Also hides an already shared image if it is later rejected or flagged."
            ),
            "share_default_expiry_days": "0 = links never expire unless the sharer sets a date.",
            "share_max_expiry_days": "0 = no maximum (links may never expire).",
        }
