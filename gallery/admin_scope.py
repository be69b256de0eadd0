"""What every admin page shares: staff see the rows of the teams they review, and a few
display helpers."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from gallery.accounts.models import User
from gallery.generation.models import GenerationRequest
from gallery.review import selectors as review_selectors


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


class TeamScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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
        sizes = (
            GenerationRequest.objects.exclude(parameters__size=None)
            .values_list("parameters__size", flat=True)
            .distinct()
        )
        return [(str(size), str(size)) for size in sorted({str(s) for s in sizes})]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(**{self.lookup: self.value()})
        return queryset


class GenerationSizeFilter(SizeFilter):
    lookup = "request__parameters__size"
