"""The share-link forms: making a link, and changing one after it was made."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator
from django.utils import dateformat, timezone

from gallery.sharing import selectors as sharing_selectors
from gallery.sharing import services as sharing_services
from gallery.team.models import Team

# The expiry presets offered (days); the team's default is added when it is not one of them,
# and presets beyond the team's maximum are left out. "" is "never expires".
EXPIRY_PRESETS = (1, 7, 30, 90, 365)
KEEP = "keep"
NEVER = ""


def _days_label(days: int) -> str:
    if days == 7:
        return "1 week"
    if days == 365:
        return "1 year"
    return f"{days} day{'s' if days != 1 else ''}"


def expiry_choices(team: Team) -> list[tuple[str, str]]:
    default, maximum = sharing_selectors.expiry_limits(team)
    days = {d for d in EXPIRY_PRESETS if maximum is None or d <= maximum}
    if default is not None:
        days.add(default)
    if maximum is not None:
        days.add(maximum)
    choices = [(str(d), _days_label(d)) for d in sorted(days)]
    if maximum is None:
        choices.append((NEVER, "Never"))
    return choices


class _ExpiryField(forms.ChoiceField):
    """Expiry as a choice of presets that also takes any whole number of days (the API and
    older forms post numbers), cleaned to int days or None for never."""

    def valid_value(self, value: str) -> bool:
        return value in (NEVER, KEEP) or value.isdigit() or super().valid_value(value)


def _clean_days(value: str) -> int | None:
    if value == NEVER:
        return None
    try:
        days = int(value)
    except ValueError:
        raise forms.ValidationError("Choose how long the link should work.") from None
    # Any number of days is accepted (the API posts numbers), but without a team maximum the
    # calendar is the limit: now + 3,650,000 days is past the year 9999.
    MaxValueValidator(sharing_selectors.EXPIRY_MAX_DAYS)(days)
    return days


class _LinkFields(forms.Form):
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
    proofing = forms.BooleanField(
        required=False,
        initial=False,
        label="Proofing: visitors can pick favourites and comment",
        help_text=(
            "Each visitor gives a name once; their picks and comments show on the images here "
            "and on this link, and you get an email digest of new activity."
        ),
    )
    note = forms.CharField(
        required=False,
        max_length=sharing_services.NOTE_MAX_CHARS,
        label="Who is it for? (only your team sees this)",
    )


FOLLOW, FREEZE = "follow", "freeze"


class ShareLinkForm(_LinkFields):
    """A new link: how long it works (the team's default preselected), password, toggles, note;
    from a collection, whether the link follows it or keeps the images it holds now."""

    field_order = [
        "collection_mode",
        "expires_in_days",
        "password",
        "allow_download",
        "show_metadata",
        "proofing",
        "note",
    ]

    def __init__(
        self, *args: Any, team: Team, from_collection: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if from_collection:
            self.fields["collection_mode"] = forms.ChoiceField(
                choices=[
                    (FOLLOW, "Follow the collection: images added to it later appear too"),
                    (FREEZE, "Only the images in it now"),
                ],
                initial=FOLLOW,
                widget=forms.RadioSelect,
                label="What the link shows",
            )
        default, maximum = sharing_selectors.expiry_limits(team)
        self.fields["expires_in_days"] = _ExpiryField(
            choices=expiry_choices(team),
            required=False,
            initial=str(default) if default is not None else NEVER,
            label="Works for",
            help_text=(
                f"Your team allows at most {maximum} days."
                if maximum is not None
                else "Counted from now."
            ),
        )
        self.order_fields(self.field_order)

    def clean_expires_in_days(self) -> int | None:
        return _clean_days(self.cleaned_data.get("expires_in_days") or NEVER)

    def link_options(self) -> dict[str, Any]:
        """The cleaned form as ``share_link_create`` keyword arguments (the collection aside)."""
        options = dict(self.cleaned_data)
        options["follows_collection"] = options.pop("collection_mode", None) == FOLLOW
        return options


class ShareLinkEditForm(_LinkFields):
    """Changing a link: expiry (kept unless chosen again), password (kept unless a new one is
    typed or "remove" is ticked), toggles and note."""

    field_order = [
        "expires_in_days",
        "password",
        "remove_password",
        "allow_download",
        "show_metadata",
        "proofing",
        "note",
    ]

    remove_password = forms.BooleanField(required=False, label="Remove the password")

    def __init__(self, *args: Any, team: Team, expires_at: datetime | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        now = timezone.now()
        if expires_at is None:
            current = "Keep: never expires"
        elif expires_at <= now:
            current = "Keep: expired"
        else:
            current = (
                f"Keep: until {dateformat.format(timezone.localtime(expires_at), 'j M Y, H:i')}"
            )
        self.fields["expires_in_days"] = _ExpiryField(
            choices=[
                (KEEP, current),
                *[
                    (v, f"{label} from now") if v else (v, label)
                    for v, label in expiry_choices(team)
                ],
            ],
            required=False,
            initial=KEEP,
            label="Works for",
        )
        self.fields["password"].label = "New password"
        self.fields["password"].help_text = "Leave empty to keep the current one."
        self.order_fields(self.field_order)

    def clean_expires_in_days(self) -> int | str | None:
        """KEEP when the expiry is left as it is (or not sent), else days as for a new link."""
        value = self.cleaned_data.get("expires_in_days") or NEVER
        if value == KEEP or "expires_in_days" not in self.data:
            return KEEP
        return _clean_days(value)

    def changes(self) -> dict[str, Any]:
        """The cleaned form as ``share_link_update`` keyword arguments."""
        data = self.cleaned_data
        changes: dict[str, Any] = {
            "allow_download": data["allow_download"],
            "show_metadata": data["show_metadata"],
            "proofing": data["proofing"],
            "note": data["note"],
        }
        if data["expires_in_days"] != KEEP:
            changes["expires_in_days"] = data["expires_in_days"]
        if data.get("remove_password"):
            changes["password"] = ""
        elif data.get("password"):
            changes["password"] = data["password"]
        return changes
