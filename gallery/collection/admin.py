"""Admin for collections: staff see the collections of the teams they review."""

from __future__ import annotations

from django.contrib import admin

from gallery.admin_scope import TeamScopedAdmin
from gallery.collection.models import Collection, CollectionItem


class CollectionItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CollectionItem
    extra = 0
    fields = readonly_fields = ("position", "image", "added_by", "added_at")
    ordering = ("position", "id")
    can_delete = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Collection)
class CollectionAdmin(TeamScopedAdmin):
    list_display = ["name", "team", "created_by", "created_at", "updated_at"]
    list_filter = ["team", "created_at"]
    list_select_related = ["team", "created_by"]
    search_fields = ["name", "description"]
    fields = ("public_id", "team", "name", "description", "cover", "created_by", "created_at")
    readonly_fields = ("public_id", "team", "cover", "created_by", "created_at")
    inlines = [CollectionItemInline]

    def has_add_permission(self, request: object) -> bool:
        return False  # made in the app, by a member of the team
