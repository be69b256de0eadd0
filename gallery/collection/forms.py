"""Collection forms: make or rename one, and choose where selected images go."""

from __future__ import annotations

from typing import Any

from django import forms

from gallery.collection import services as collection_services
from gallery.collection.models import Collection


class CollectionForm(forms.Form):
    name = forms.CharField(max_length=collection_services.NAME_MAX_CHARS, label="Name")
    description = forms.CharField(
        required=False,
        max_length=collection_services.DESCRIPTION_MAX_CHARS,
        label="Description (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CollectionAddForm(forms.Form):
    """Where selected images go: one of the team's collections, or a new one by name."""

    collection = forms.ChoiceField(required=False, label="Collection", widget=forms.RadioSelect)
    new_name = forms.CharField(
        required=False,
        max_length=collection_services.NAME_MAX_CHARS,
        label="Or a new collection named",
    )

    def __init__(self, *args: Any, collections: list[Collection], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["collection"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(str(c.public_id), c.name) for c in collections]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("collection") and not (data.get("new_name") or "").strip():
            raise forms.ValidationError("Choose a collection, or name a new one.")
        return data
