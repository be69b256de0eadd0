"""The generate form, built from the model's live request schema."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from gallery.generation.models import GenerationRequest
from seedream import limits
from seedream.schema import FieldSpec, RequestSchema

PARAM_PREFIX = "p_"
BATCH_CHOICES = [(n, str(n)) for n in range(limits.BATCH_MIN, limits.BATCH_MAX + 1)]


def _param_field(spec: FieldSpec) -> forms.Field | None:
    """A form field for one schema parameter, by its declared type; None for types a plain
    form cannot offer (arrays and objects other than references)."""
    common: dict[str, Any] = {
        "label": spec.title,
        "help_text": spec.description or "",
        "required": spec.required,
    }
    if spec.enum:
        choices = [(str(value), str(value)) for value in spec.enum]
        if not spec.required:
            common["required"] = False
        return forms.ChoiceField(choices=choices, **common)
    if spec.type == "boolean":
        return forms.BooleanField(**{**common, "required": False})
    if spec.type == "integer":
        return forms.IntegerField(
            min_value=_int_or_none(spec.minimum), max_value=_int_or_none(spec.maximum), **common
        )
    if spec.type == "number":
        return forms.FloatField(min_value=spec.minimum, max_value=spec.maximum, **common)
    if spec.type == "string" or spec.type is None:
        return forms.CharField(**common)
    return None


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)


class GenerateForm(forms.Form):
    """Prompt, batch size and every visible parameter the schema declares.

    References are not a field here: they are kept as an ordered list of the team's reference
    ids (uploads become references first), so nothing uploaded is lost when the form has errors.
    """

    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "Describe the image you want"}),
        required=False,  # an empty prompt gets a plainer message than "This field is required."
        max_length=4000,
    )
    batch_size = forms.TypedChoiceField(
        label="Images",
        choices=BATCH_CHOICES,
        coerce=int,
        initial=1,
        widget=forms.RadioSelect,
    )
    remix_of = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, schema: RequestSchema | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = schema
        self.specs: dict[str, FieldSpec] = {}
        for spec in schema.form_fields() if schema else []:
            if spec.hidden:
                continue
            field = _param_field(spec)
            if field is None:
                continue
            name = PARAM_PREFIX + spec.name
            self.fields[name] = field
            self.specs[name] = spec
            if spec.default is not None and not self.is_bound:
                self.initial.setdefault(name, spec.default)

    def clean_prompt(self) -> str:
        prompt: str = self.cleaned_data["prompt"].strip()
        if not prompt:
            raise forms.ValidationError("Write a prompt: describe the image you want.")
        return prompt

    def param_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.specs]

    def parameters(self) -> dict[str, Any]:
        """The cleaned parameters under their schema names, converted to the schema's types."""
        values: dict[str, Any] = {}
        for name, spec in self.specs.items():
            value = self.cleaned_data.get(name)
            if spec.enum:
                if value in (None, ""):
                    continue
                value = next((v for v in spec.enum if str(v) == value), value)
            elif value is None or (value == "" and not spec.required):
                continue
            values[spec.name] = value
        return values

    def add_schema_errors(self, by_field: dict[str, list[str]]) -> dict[str, list[str]]:
        """Put the service's errors beside their fields; returns the rest by field name
        (``references`` for the reference images, which are not a form field), for the page to
        show where they belong."""
        leftover: dict[str, list[str]] = {}
        for field, messages in by_field.items():
            plain = [_plain(field, message) for message in messages]
            target = PARAM_PREFIX + field if PARAM_PREFIX + field in self.fields else field
            if target in ("prompt", "batch_size") or target in self.specs:
                for message in plain:
                    self.add_error(target, message)
            else:
                leftover.setdefault(field, []).extend(plain)
        return leftover

    def cost(self) -> tuple[Decimal | None, int]:
        """(estimated cost, images) for the batch size as entered."""
        batch = _batch(
            self.data.get("batch_size") if self.is_bound else self.initial.get("batch_size")
        )
        per_image = self.price_per_image()
        return (per_image * batch if per_image is not None else None), batch

    def price_per_image(self) -> Decimal | None:
        """One image's price at the size as entered (the schema's default size otherwise)."""
        if self.schema is None:
            return None
        field = PARAM_PREFIX + "size"
        size = self.data.get(field) if self.is_bound else self.initial.get(field)
        return self.schema.price_for({"size": size} if isinstance(size, str) and size else {})


def _batch(value: object) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return 1
    return min(limits.BATCH_MAX, max(limits.BATCH_MIN, number))


def _plain(field: str, message: str) -> str:
    """A schema message without its "field: " prefix, as a sentence."""
    text = message.split(": ", 1)[1] if message.startswith(f"{field}: ") else message
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def remix_initial(request: GenerationRequest, *, remix: bool = True) -> dict[str, Any]:
    """The form as ``request`` filled it: a remix of it, or (``remix=False``) the same form
    again after generating, to iterate on."""
    if remix:
        remix_of = str(request.public_id)
    else:  # iterating keeps what the form was: a remix of the same request, or nothing
        remix_of = str(request.remix_of.public_id) if request.remix_of else ""
    initial: dict[str, Any] = {
        "prompt": request.prompt,
        "batch_size": request.batch_size,
        "remix_of": remix_of,
    }
    for name, value in request.parameters.items():
        initial[PARAM_PREFIX + name] = str(value) if not isinstance(value, bool) else value
    return initial
