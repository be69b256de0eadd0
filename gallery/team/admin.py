"""Admin for teams and memberships."""

from __future__ import annotations

from django.contrib import admin

from gallery.team.models import Membership, Team


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    list_select_related = ["user", "team"]
    search_fields = ["user__username", "user__email", "team__name"]
    autocomplete_fields = ["user", "team"]
