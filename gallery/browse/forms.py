"""The gallery's filters."""

from __future__ import annotations

from django import forms
from django.http import QueryDict

from gallery.browse.selectors import STATUS_FILTERS, GalleryFilters
from gallery.generation.models import GalleryImage
from gallery.team.models import Membership


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
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    favourites = forms.BooleanField(required=False, label="Favourites")

    def __init__(self, data: QueryDict, *, members: list[Membership], sizes: list[str]) -> None:
        super().__init__(data)
        author = self.fields["author"]
        assert isinstance(author, forms.ChoiceField)
        author.choices = [("", "Anyone")] + [
            (m.user.username, m.user.display_name) for m in members
        ]
        self.sizes = sizes

    def filters(self) -> GalleryFilters:
        """What was asked for; a malformed value is ignored rather than an error page."""
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
        )
