"""The share-link form."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.validators import MaxValueValidator

from gallery.sharing import selectors as sharing_selectors
from gallery.sharing import services as sharing_services
from gallery.team.models import Team


class ShareLinkForm(forms.Form):
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        label="Expires after (days)",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    password = forms.CharField(
        required=False,
        strip=False,
        label="Password (optional)",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    allow_download = forms.BooleanField(
        required=False,
        initial=True,
        label="Allow downloading the originals",
        help_text=(
            "Downloads come without the files' metadata. Off: people see each image at most "
            f"{sharing_selectors.PREVIEW_WIDTH_WITHOUT_DOWNLOAD} px wide and cannot download it."
        ),
    )
    show_metadata = forms.BooleanField(
        required=False, initial=False, label="Show the prompt and parameters"
    )
    note = forms.CharField(
        required=False,
        max_length=sharing_services.NOTE_MAX_CHARS,
        label="Who is it for? (only your team sees this)",
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        default, maximum = sharing_selectors.expiry_limits(team)
        field = cast(forms.IntegerField, self.fields["expires_in_days"])
        self.fields["expires_in_days"].initial = default
        if maximum is not None:
            field.required = True
            field.max_value = maximum
            field.validators.append(MaxValueValidator(maximum))
            field.widget.attrs["max"] = maximum
            field.help_text = f"Your team allows at most {maximum} days."
        else:
            # Without a team maximum the calendar is the limit: now + 3,650,000 days is past
            # the year 9999, so cap it at what the service accepts.
            field.max_value = sharing_selectors.EXPIRY_MAX_DAYS
            field.validators.append(MaxValueValidator(sharing_selectors.EXPIRY_MAX_DAYS))
            field.widget.attrs["max"] = sharing_selectors.EXPIRY_MAX_DAYS
            field.help_text = "Leave empty for a link that never expires."
