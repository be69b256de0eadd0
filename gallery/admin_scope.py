"""What every admin page shares: staff see the rows of the teams they review, and a few
display helpers."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.db.models import ForeignKey, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from gallery.accounts.models import User
from gallery.review import selectors as review_selectors
from gallery.team.models import Team


def pretty_json(value: object) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


def thumb_html(public_id: object, size: int = 64) -> str:
    url = reverse("review-media", args=[public_id, "thumb"])
    return format_html(
        '<img src="{}" width="{}" height="{}" alt="" loading="lazy" style="object-fit:cover">',
        url,
        size,
        size,
    )


def scoped_choices(request: HttpRequest, db_field: ForeignKey[Any, Any]) -> QuerySet[Any] | None:
    """The rows a foreign key to a team or a person may name for this staff user; None for
    other relations."""
    assert isinstance(request.user, User)
    if db_field.related_model is Team:
        return review_selectors.reviewable_teams(request.user)
    if db_field.related_model is User:
        return review_selectors.reviewable_users(request.user)
    return None


class StaffScopedMixin:
    """Filters on relations list only what the (scoped) changelist holds, and foreign keys to
    teams and people offer only the staff user's own."""

    model: Any

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        return [self._scoped_filter(entry) for entry in super().get_list_filter(request)]  # type: ignore[misc]

    def _scoped_filter(self, entry: Any) -> Any:
        if isinstance(entry, str) and get_fields_from_path(self.model, entry)[-1].is_relation:
            return (entry, admin.RelatedOnlyFieldListFilter)
        return entry

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        choices = scoped_choices(request, db_field)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc,no-any-return]


class TeamScopedAdmin(StaffScopedMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Staff see the rows of the teams they belong to; superusers see everything."""

    team_path = ""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        assert isinstance(request.user, User)
        return queryset.filter(
            review_selectors.reviewable_teams_q(request.user, prefix=self.team_path)
        )


# -- filters -------------------------------------------------------------------------------------


class SizeFilter(admin.SimpleListFilter):
    title = "size"
    parameter_name = "size"
    lookup = "generation__request__parameters__size"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # From the changelist's own (scoped) rows: another team's sizes are not listed.
        sizes = (
            model_admin.get_queryset(request)
            .exclude(**{self.lookup: None})
            .order_by()
            .values_list(self.lookup, flat=True)
            .distinct()
        )
        return [(str(size), str(size)) for size in sorted({str(s) for s in sizes})]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(**{self.lookup: self.value()})
        return queryset


class GenerationSizeFilter(SizeFilter):
    lookup = "request__parameters__size"
