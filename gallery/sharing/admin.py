"""Admin for shared links."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from gallery.accounts.models import User
from gallery.admin_scope import TeamScopedAdmin
from gallery.sharing import services as sharing_services
from gallery.sharing.models import ShareLink


@admin.register(ShareLink)
class ShareLinkAdmin(TeamScopedAdmin):
    list_display = [
        "__str__",
        "team",
        "state",
        "created_by",
        "expires_at",
        "view_count",
        "download_count",
        "last_accessed_at",
        "created_at",
    ]
    list_filter = ["team", "allow_download", "show_metadata", "created_at"]
    list_select_related = ["team", "created_by"]
    search_fields = ["note"]
    fields = readonly_fields = (
        "public_id",
        "team",
        "note",
        "created_by",
        "created_at",
        "expires_at",
        "has_password",
        "allow_download",
        "show_metadata",
        "revoked_at",
        "revoked_by",
        "view_count",
        "download_count",
        "last_accessed_at",
    )
    actions = ["revoke_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made in the app, where the token is shown once

    @admin.display(description="State")
    def state(self, obj: ShareLink) -> str:
        return obj.state

    @admin.display(description="Password", boolean=True)
    def has_password(self, obj: ShareLink) -> bool:
        return obj.has_password

    @admin.action(description="Revoke selected links", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ShareLink]) -> None:
        assert isinstance(request.user, User)
        revoked = sum(
            sharing_services.share_link_moderate(link=link, reviewer=request.user)
            for link in queryset
        )
        self.message_user(request, f"{revoked} link(s) revoked.", messages.SUCCESS)
