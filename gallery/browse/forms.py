"""The gallery's filters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import QueryDict
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from gallery.browse.selectors import STATUS_FILTERS, GalleryFilters
from gallery.generation.models import GalleryImage

# Filter dates are bounded: a day at the end of the calendar (9999-12-31) has no next day to
# end the range at, and nothing was generated before 1900 or will be after 2999.
DATE_MIN, DATE_MAX = date(1900, 1, 1), date(2999, 12, 31)
DATE_RANGE_MESSAGE = f"Enter a date between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}."


# -- widgets rendered once (issue 15) -------------------------------------------------------------
#
# Every gallery page renders the filter form, and Django renders a widget through templates (one
# per <option>): ~2-3 ms of the page's CPU for the same HTML each time. These widgets remember
# their HTML per process, keyed by everything it is made of (name, value, attributes, choices,
# language), so a page renders each distinct widget once.

_RENDERED: dict[object, SafeString] = {}
_RENDERED_MAX = 1024  # forgotten all at once past this: a bound, not an eviction policy


def _frozen(value: object) -> object:
    """``value`` as a hashable key: containers by their contents, the rest by type and text
    (a lazy label by its text in the active language)."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return (type(value).__name__, str(value))


class _Remembered(forms.Widget):
    def render(
        self,
        name: str,
        value: object,
        attrs: dict[str, object] | None = None,
        renderer: object = None,
    ) -> SafeString:
        key = (
            type(self),
            name,
            _frozen(value),
            _frozen(attrs or {}),
            _frozen(self.attrs),
            _frozen(getattr(self, "choices", ())),
            get_language(),
            type(renderer),
        )
        html = _RENDERED.get(key)
        if html is None:
            html = super().render(name, value, attrs, renderer)  # type: ignore[arg-type]
            if len(_RENDERED) >= _RENDERED_MAX:
                _RENDERED.clear()
            _RENDERED[key] = html
        return html


class RememberedSelect(_Remembered, forms.Select):
    pass


class RememberedDateInput(_Remembered, forms.DateInput):
    pass


class RememberedCheckboxInput(_Remembered, forms.CheckboxInput):
    pass


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        widget=RememberedDateInput(
            attrs={"type": "date", "min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()}
        ),
        validators=[
            MinValueValidator(DATE_MIN, message=DATE_RANGE_MESSAGE),
            MaxValueValidator(DATE_MAX, message=DATE_RANGE_MESSAGE),
        ],
    )


class FilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search prompts", max_length=200)
    author = forms.ChoiceField(required=False, label="Author", widget=RememberedSelect)
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status"), *STATUS_FILTERS.items()],
        label="Status",
        widget=RememberedSelect,
    )
    size = forms.CharField(required=False, label="Size", max_length=20)
    review = forms.ChoiceField(
        required=False,
        choices=[("", "Any review state"), *GalleryImage.ReviewState.choices],
        label="Review",
        widget=RememberedSelect,
    )
    date_from = _date_field("From")
    date_to = _date_field("To")
    favourites = forms.BooleanField(
        required=False, label="Favourites", widget=RememberedCheckboxInput
    )
    collection = forms.ChoiceField(required=False, label="In collection", widget=RememberedSelect)

    def __init__(
        self,
        data: QueryDict,
        *,
        authors: Sequence[tuple[str, str]],
        sizes: list[str],
        collections: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(data)
        collection = self.fields["collection"]
        assert isinstance(collection, forms.ChoiceField)
        collection.choices = [("", "Any collection"), *collections]
        author = self.fields["author"]
        assert isinstance(author, forms.ChoiceField)
        author.choices = [("", "Anyone"), *authors]  # (username, display name)
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
