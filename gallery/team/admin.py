"""Admin for teams and memberships: staff see and edit only the teams they belong to."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from gallery.accounts.models import User
from gallery.admin_scope import StaffScopedMixin, TeamScopedAdmin
from gallery.review import selectors as review_selectors
from gallery.team.models import Membership, Team


class MembershipInline(StaffScopedMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(StaffScopedMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "name",
        "pending_visible_to_team",
        "share_requires_approval",
        "share_default_expiry_days",
        "share_max_expiry_days",
        "created_at",
    ]
    search_fields = ["name"]
    readonly_fields = ["public_id", "created_at"]
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        assert isinstance(request.user, User)
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=review_selectors.reviewable_teams(request.user))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A team made here by a staff user would not be theirs to see: superusers only.
        return bool(request.user.is_superuser) and super().has_add_permission(request)


@admin.register(Membership)
class MembershipAdmin(TeamScopedAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    list_select_related = ["user", "team"]
    search_fields = ["user__username", "user__email", "team__name"]
    autocomplete_fields = ["user", "team"]
