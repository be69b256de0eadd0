"""Admin for generations and references."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from gallery.admin_scope import GenerationSizeFilter, TeamScopedAdmin, pretty_json, thumb_html
from gallery.generation.models import GalleryImage, Generation, Reconciliation, Reference

UPSTREAM_FIELDS = (
    "public_id",
    "team",
    "request_link",
    "index",
    "status",
    "upstream_id",
    "upstream_status",
    "target_directory",
    "attempts",
    "waits",
    "checks",
    "last_error",
    "cost",
    "created_at",
    "submitted_at",
    "finished_at",
    "deadline_at",
    "next_check_at",
    "updated_at",
    "transitions_pretty",
    "prompt",
    "parameters",
    "request_body",
    "request_schema",
    "image_link",
)


class ReconciledInline(admin.TabularInline):  # type: ignore[type-arg]
    """What the ledger (``manage.py oxen_reconcile``) changed on this generation, and why."""

    model = Reconciliation
    verbose_name = "reconciliation"
    verbose_name_plural = "Reconciled with Oxen"
    fields = readonly_fields = ("created_at", "action", "upstream_id", "detail")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Generation)
class GenerationAdmin(TeamScopedAdmin):
    list_display = [
        "thumbnail",
        "public_id",
        "status",
        "team",
        "author",
        "model_name",
        "cost",
        "created_at",
        "finished_at",
    ]
    list_filter = [
        "status",
        "team",
        ("request__author", admin.RelatedOnlyFieldListFilter),
        "created_at",
        "request__model",
        GenerationSizeFilter,
    ]
    list_select_related = ["team", "request__author", "image"]
    search_fields = ["request__prompt", "upstream_id", "public_id"]
    date_hierarchy = "created_at"
    fields = UPSTREAM_FIELDS
    readonly_fields = UPSTREAM_FIELDS
    inlines = [ReconciledInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the pipeline owns these rows; the admin shows them

    @staticmethod
    def _image(obj: Generation) -> GalleryImage | None:
        try:
            return obj.image
        except GalleryImage.DoesNotExist:
            return None

    @admin.display(description="")
    def thumbnail(self, obj: Generation) -> str:
        image = self._image(obj)
        return thumb_html(image.public_id) if image else "—"

    @admin.display(description="Author", ordering="request__author__username")
    def author(self, obj: Generation) -> str:
        return obj.request.author.display_name if obj.request.author else "—"

    @admin.display(description="Model", ordering="request__model")
    def model_name(self, obj: Generation) -> str:
        return obj.request.model

    @admin.display(description="Request")
    def request_link(self, obj: Generation) -> str:
        return str(obj.request.public_id)

    @admin.display(description="Prompt")
    def prompt(self, obj: Generation) -> str:
        return obj.request.prompt

    @admin.display(description="Parameters")
    def parameters(self, obj: Generation) -> str:
        return pretty_json(obj.request.parameters)

    @admin.display(description="Request body sent")
    def request_body(self, obj: Generation) -> str:
        return pretty_json(obj.request.request_body)

    @admin.display(description="Request schema")
    def request_schema(self, obj: Generation) -> str:
        return pretty_json(obj.request.request_schema)

    @admin.display(description="Transitions")
    def transitions_pretty(self, obj: Generation) -> str:
        return pretty_json(obj.transitions)

    @admin.display(description="Image")
    def image_link(self, obj: Generation) -> str:
        image = self._image(obj)
        if image is None:
            return "—"
        url = reverse("admin:gallery_galleryimage_change", args=[image.pk])
        return format_html('<a href="{}">{}</a>', url, image.public_id)


@admin.register(Reference)
class ReferenceAdmin(TeamScopedAdmin):
    list_display = [
        "preview_small",
        "original_name",
        "team",
        "format",
        "width",
        "height",
        "created_at",
    ]
    list_filter = ["team", "format"]
    list_select_related = ["team"]
    search_fields = ["original_name", "sha256"]
    fields = readonly_fields = (
        "preview_small",
        "public_id",
        "team",
        "uploaded_by",
        "original_name",
        "format",
        "width",
        "height",
        "bytes",
        "sha256",
        "hosted_url",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="")
    def preview_small(self, obj: Reference) -> str:
        url = reverse("review-reference-media", args=[obj.public_id])
        return format_html(
            '<img src="{}" width="48" height="48" alt="" style="object-fit:cover">', url
        )
