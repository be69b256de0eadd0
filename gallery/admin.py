"""Django admin: images and generations for reviewers, plus the other models kept read-mostly.

Review state never changes by editing a field: the bulk actions and the image form's
"decision" go through ``gallery.review.image_review``, the same service as the review queue, so
every change lands in the history. Staff who are not superusers see only their teams' rows.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from gallery import review, sharing
from gallery.models import (
    GalleryImage,
    Generation,
    GenerationRequest,
    Membership,
    Reference,
    ReviewDecision,
    ShareLink,
    Team,
    User,
)

State = GalleryImage.ReviewState


def _pretty_json(value: object) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


def _thumb(public_id: object, size: int = 64) -> str:
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
        return queryset.filter(review.reviewable_teams_q(request.user, prefix=self.team_path))


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


# -- review history inline -----------------------------------------------------------------------


class ReviewDecisionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ReviewDecision
    fields = readonly_fields = ("created_at", "actor", "kind", "from_state", "to_state", "note")
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# -- images --------------------------------------------------------------------------------------


class GalleryImageForm(forms.ModelForm):  # type: ignore[type-arg]
    decision = forms.ChoiceField(
        required=False,
        choices=[("", "Keep the current state"), *State.choices],
        help_text="Recorded in the review history, with the note.",
    )
    decision_note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = GalleryImage
        fields: list[str] = []


@admin.register(GalleryImage)
class GalleryImageAdmin(TeamScopedAdmin):
    form = GalleryImageForm
    list_display = [
        "thumbnail",
        "prompt_excerpt",
        "review_state",
        "team",
        "author",
        "model_name",
        "size",
        "created_at",
    ]
    list_display_links = ["thumbnail", "prompt_excerpt"]
    list_filter = [
        "review_state",
        "team",
        ("generation__request__author", admin.RelatedOnlyFieldListFilter),
        "created_at",
        "generation__request__model",
        SizeFilter,
    ]
    list_select_related = ["team", "generation__request__author"]
    search_fields = ["generation__request__prompt"]
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ["approve_selected", "reject_selected"]
    inlines = [ReviewDecisionInline]
    fieldsets = [
        (None, {"fields": ["preview", "review_state", "decision", "decision_note"]}),
        ("Request", {"fields": ["prompt", "model_name", "parameters", "author", "references"]}),
        (
            "Image",
            {"fields": ["public_id", "team", "format", "width", "height", "bytes", "sha256"]},
        ),
        (
            "Upstream",
            {
                "classes": ["collapse"],
                "fields": [
                    "generation_link",
                    "upstream_id",
                    "status",
                    "cost",
                    "request_body",
                    "transitions",
                ],
            },
        ),
    ]
    readonly_fields = [
        "preview",
        "review_state",
        "prompt",
        "model_name",
        "parameters",
        "author",
        "references",
        "public_id",
        "team",
        "format",
        "width",
        "height",
        "bytes",
        "sha256",
        "generation_link",
        "upstream_id",
        "status",
        "cost",
        "request_body",
        "transitions",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # images come from the pipeline

    @admin.display(description="")
    def thumbnail(self, obj: GalleryImage) -> str:
        return _thumb(obj.public_id)

    @admin.display(description="Preview")
    def preview(self, obj: GalleryImage) -> str:
        url = reverse("review-media", args=[obj.public_id, "preview"])
        return format_html('<img src="{}" alt="" style="max-width:480px;height:auto">', url)

    @admin.display(description="Prompt", ordering="generation__request__prompt")
    def prompt_excerpt(self, obj: GalleryImage) -> str:
        prompt = obj.generation.request.prompt
        return prompt if len(prompt) <= 80 else f"{prompt[:79]}…"

    @admin.display(description="Prompt")
    def prompt(self, obj: GalleryImage) -> str:
        return obj.generation.request.prompt

    @admin.display(description="Author", ordering="generation__request__author__username")
    def author(self, obj: GalleryImage) -> str:
        author = obj.generation.request.author
        return author.display_name if author else "—"

    @admin.display(description="Model", ordering="generation__request__model")
    def model_name(self, obj: GalleryImage) -> str:
        return obj.generation.request.model

    @admin.display(description="Size")
    def size(self, obj: GalleryImage) -> str:
        return str(obj.generation.request.parameters.get("size", "—"))

    @admin.display(description="Parameters")
    def parameters(self, obj: GalleryImage) -> str:
        return _pretty_json(obj.generation.request.parameters)

    @admin.display(description="References")
    def references(self, obj: GalleryImage) -> str:
        refs = obj.generation.request.ordered_references()
        if not refs:
            return "—"
        return format_html_join(
            " ",
            '<img src="{}" width="48" height="48" alt="" style="object-fit:cover">',
            ((reverse("review-reference-media", args=[ref.public_id]),) for ref in refs),
        )

    @admin.display(description="Generation")
    def generation_link(self, obj: GalleryImage) -> str:
        url = reverse("admin:gallery_generation_change", args=[obj.generation_id])
        return format_html('<a href="{}">{}</a>', url, obj.generation.public_id)

    @admin.display(description="Upstream id")
    def upstream_id(self, obj: GalleryImage) -> str:
        return obj.generation.upstream_id or "—"

    @admin.display(description="Status")
    def status(self, obj: GalleryImage) -> str:
        return obj.generation.get_status_display()

    @admin.display(description="Cost")
    def cost(self, obj: GalleryImage) -> str:
        return str(obj.generation.cost) if obj.generation.cost is not None else "—"

    @admin.display(description="Request body sent")
    def request_body(self, obj: GalleryImage) -> str:
        return _pretty_json(obj.generation.request.request_body)

    @admin.display(description="Transitions")
    def transitions(self, obj: GalleryImage) -> str:
        return _pretty_json(obj.generation.transitions)

    def save_model(self, request: HttpRequest, obj: GalleryImage, form: Any, change: bool) -> None:
        decision = form.cleaned_data.get("decision")
        if not decision:
            return  # every other field is read-only
        assert isinstance(request.user, User)
        try:
            review.image_review(
                image=obj,
                reviewer=request.user,
                to_state=decision,
                note=form.cleaned_data.get("decision_note", ""),
            )
        except review.ReviewError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def _bulk(self, request: HttpRequest, queryset: QuerySet[GalleryImage], to_state: str) -> None:
        assert isinstance(request.user, User)
        try:
            changed = review.images_review(
                images=queryset.select_related("team"), reviewer=request.user, to_state=to_state
            )
        except review.ReviewError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        label = State(to_state).label.lower()
        self.message_user(request, f"{changed} image(s) {label}.", messages.SUCCESS)

    @admin.action(description="Approve selected images", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[GalleryImage]) -> None:
        self._bulk(request, queryset, State.APPROVED)

    @admin.action(description="Reject selected images", permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[GalleryImage]) -> None:
        self._bulk(request, queryset, State.REJECTED)


# -- generations ---------------------------------------------------------------------------------


UPSTREAM_FIELDS = (
    "public_id",
    "team",
    "request_link",
    "index",
    "status",
    "upstream_id",
    "attempts",
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
        return _thumb(image.public_id) if image else "—"

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
        return _pretty_json(obj.request.parameters)

    @admin.display(description="Request body sent")
    def request_body(self, obj: Generation) -> str:
        return _pretty_json(obj.request.request_body)

    @admin.display(description="Request schema")
    def request_schema(self, obj: Generation) -> str:
        return _pretty_json(obj.request.request_schema)

    @admin.display(description="Transitions")
    def transitions_pretty(self, obj: Generation) -> str:
        return _pretty_json(obj.transitions)

    @admin.display(description="Image")
    def image_link(self, obj: Generation) -> str:
        image = self._image(obj)
        if image is None:
            return "—"
        url = reverse("admin:gallery_galleryimage_change", args=[image.pk])
        return format_html('<a href="{}">{}</a>', url, image.public_id)


# -- the rest ------------------------------------------------------------------------------------


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


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    pass


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
        revoked = sum(sharing.share_link_revoke(link=link, user=request.user) for link in queryset)
        self.message_user(request, f"{revoked} link(s) revoked.", messages.SUCCESS)


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(TeamScopedAdmin):
    team_path = "image__"
    list_display = ["created_at", "image", "actor", "kind", "from_state", "to_state", "note"]
    list_filter = ["kind", "to_state", "image__team"]
    list_select_related = ["image", "actor"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the history is kept for good
