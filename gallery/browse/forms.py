"""The gallery's filters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import QueryDict

from gallery.browse.selectors import STATUS_FILTERS, GalleryFilters
from gallery.generation.models import GalleryImage
from gallery.team.models import Membership

# Filter dates are bounded: a day at the end of the calendar (9999-12-31) has no next day to
# end the range at, and nothing was generated before 1900 or will be after 2999.
DATE_MIN, DATE_MAX = date(1900, 1, 1), date(2999, 12, 31)
DATE_RANGE_MESSAGE = f"Enter a date between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}."


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        widget=forms.DateInput(
            attrs={"type": "date", "min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()}
        ),
        validators=[
            MinValueValidator(DATE_MIN, message=DATE_RANGE_MESSAGE),
            MaxValueValidator(DATE_MAX, message=DATE_RANGE_MESSAGE),
        ],
    )


class FilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search prompts", max_length=200)
    author = forms.ChoiceField(required=False, label="Author")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *STATUS_FILTERS.items()], label="Status"
    )
    size = forms.CharField(required=False, label="Size", max_length=20)
    review = forms.ChoiceField(
        required=False,
        choices=[("", "Any review state"), *GalleryImage.ReviewState.choices],
        label="Review",
    )
    date_from = _date_field("From")
    date_to = _date_field("To")
    favourites = forms.BooleanField(required=False, label="Favourites")
    collection = forms.ChoiceField(required=False, label="In collection")

    def __init__(
        self,
        data: QueryDict,
        *,
        members: list[Membership],
        sizes: list[str],
        collections: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(data)
        collection = self.fields["collection"]
        assert isinstance(collection, forms.ChoiceField)
        collection.choices = [("", "Any collection"), *collections]
        author = self.fields["author"]
        assert isinstance(author, forms.ChoiceField)
        author.choices = [("", "Anyone")] + [
            (m.user.username, m.user.display_name) for m in members
        ]
        self.sizes = sizes

    def filters(self) -> GalleryFilters:
        """What was asked for; a malformed value is ignored here (the view shows the form's
        errors beside their fields and answers 400)."""
        self.is_valid()
        data = self.cleaned_data
        return GalleryFilters(
            author=data.get("author") or "",
            status=data.get("status") or "",
            size=data.get("size") or "",
            review=data.get("review") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            favourites=bool(data.get("favourites")),
            q=data.get("q") or "",
            collection=data.get("collection") or "",
        )
