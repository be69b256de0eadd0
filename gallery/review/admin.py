"""Admin for reviewers: gallery images with their review actions, and the decision log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from gallery.accounts.models import User
from gallery.admin_scope import SizeFilter, TeamScopedAdmin, pretty_json, thumb_html
from gallery.generation.models import GalleryImage
from gallery.review import services as review_services
from gallery.review.models import ReviewDecision

State = GalleryImage.ReviewState


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
    # Everything shown is read-only but the decision and its note (the form's own fields).
    readonly_fields = [
        name for name in flatten_fieldsets(fieldsets) if name not in ("decision", "decision_note")
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # images come from the pipeline

    @admin.display(description="")
    def thumbnail(self, obj: GalleryImage) -> str:
        return thumb_html(obj.public_id)

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
        return pretty_json(obj.generation.request.parameters)

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
        return pretty_json(obj.generation.request.request_body)

    @admin.display(description="Transitions")
    def transitions(self, obj: GalleryImage) -> str:
        return pretty_json(obj.generation.transitions)

    def save_model(self, request: HttpRequest, obj: GalleryImage, form: Any, change: bool) -> None:
        decision = form.cleaned_data.get("decision")
        if not decision:
            return  # every other field is read-only
        assert isinstance(request.user, User)
        try:
            review_services.image_review(
                image=obj,
                reviewer=request.user,
                to_state=decision,
                note=form.cleaned_data.get("decision_note", ""),
            )
        except review_services.ReviewError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def _bulk(self, request: HttpRequest, queryset: QuerySet[GalleryImage], to_state: str) -> None:
        assert isinstance(request.user, User)
        try:
            changed = review_services.images_review(
                images=queryset.select_related("team"), reviewer=request.user, to_state=to_state
            )
        except review_services.ReviewError as exc:
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
