"""Admin for users: superusers manage accounts and unlock locked-out logins; other staff see
the people of their teams."""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from gallery.accounts.models import User
from gallery.review import selectors as review_selectors


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    """A staff user who may change users could make anyone (themselves included) a superuser
    or reset a team owner's password, so only superusers add, change or delete accounts here;
    other staff see the members of their own teams, read-only."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        assert isinstance(request.user, User)
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=review_selectors.reviewable_users(request.user).values("pk"))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and super().has_delete_permission(request, obj)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AxesAccessAttemptAdmin):  # type: ignore[misc]
    """Failed logins counted by django-axes, by username and address. Unlocking a login is
    deleting its attempts. Superusers only: the list names every team's people and addresses."""

    actions = ["unlock_selected", "cleanup_expired_attempts"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    @admin.action(description="Unlock: forget these failed attempts", permissions=["delete"])
    def unlock_selected(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        count, _ = queryset.delete()
        self.message_user(
            request, f"Unlocked: {count} attempt record(s) forgotten.", messages.SUCCESS
        )
