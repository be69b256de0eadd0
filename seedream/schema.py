"""A model's request schema: validate a request before it is sent, and shape it to the names
the live schema declares.

Oxen regenerated Seedream 4.5's parameter set six times in four months (contract section 3.1),
so nothing here hard-codes the current field set: the schema is read from
``GET /api/ai/models/{id}`` (``request_schema``, else ``json_request_schema``).

Shaping (:meth:`RequestSchema.shape`) accepts a request written in either era:

* current names: ``input_image`` as an array of references;
* older names: ``input_image`` as one string plus ``input_images`` as an array, and
  ``output_format``.

References are collected in order (``input_image`` first, then ``input_images``), exact
duplicates removed (the old product page sends the first image in both fields), and written in
the form the live schema asks for:

* schema with an array ``input_image`` (current): every reference in ``input_image``;
* legacy schema (string ``input_image`` + array ``input_images``): the first reference as
  ``input_image`` and **all** references in ``input_images``, exactly as the old product page
  sends them (``input_images`` holds the full list, so its ``maxItems`` bounds the total);
* a schema with only ``input_images`` (the 2026-07-01 page): every reference there;
* a schema with only a string ``input_image``: one reference, more is a ``maxItems`` problem.

Fields the schema does not declare are dropped (``output_format`` disappears under the current
schema), except the generic and queue-layer fields in :data:`PASSTHROUGH_FIELDS`, which Oxen
reads before the model sees the request. Those are checked against :data:`PASSTHROUGH_RULES`.

Validation (:meth:`RequestSchema.validate`) covers required fields, types, enums, numeric
bounds, string length/pattern, ``minItems``/``maxItems`` and the ``uri`` format, where an
http(s) URL or a ``data:image/...;base64,`` URI counts as a valid reference. It returns every
problem at once so a form can show each beside its field.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from seedream import limits
from seedream.errors import FieldProblem, SchemaValidationError
from seedream.responses import JSONObject, JSONValue, Model

# Reference-image fields, in the order their values are merged.
REFERENCE_ALIASES: Final = ("input_image", "input_images")

# Sent even when the model schema does not declare them: Oxen's own request layer reads them.
PASSTHROUGH_FIELDS: Final = frozenset(
    {
        "model",
        "prompt",
        "response_format",
        "target_namespace",
        "num_generations",
        "target_repo",
        "target_directory",
    }
)
PASSTHROUGH_RULES: Final[dict[str, dict[str, Any]]] = {
    "model": {"type": "string", "minLength": 1},
    "prompt": {"type": "string"},
    "response_format": {"type": "string", "enum": ["url", "b64_json"]},
    "target_namespace": {"type": ["string", "null"]},
    "target_repo": {"type": ["string", "null"]},
    "target_directory": {"type": ["string", "null"]},
    # The docs and the error text say 1-4 (OAS-HUB says 12; the docs win).
    "num_generations": {
        "type": "integer",
        "minimum": limits.BATCH_MIN,
        "maximum": limits.BATCH_MAX,
    },
}

ReferenceLayout = Literal["array", "legacy", "list_only", "single", "none"]

_DATA_IMAGE_URI = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/=\r\n]+")
_TYPE_NAMES: Final = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "a list",
    "object": "an object",
    "null": "empty",
}


@dataclass(frozen=True)
class FieldSpec:
    """What a form needs to render one schema parameter."""

    name: str
    type: str | None
    title: str
    description: str | None
    enum: tuple[JSONValue, ...] | None
    default: JSONValue
    minimum: float | None
    maximum: float | None
    hidden: bool
    order: int | None
    required: bool
    basic: bool


@dataclass(frozen=True)
class ShapedRequest:
    """A request rewritten to the schema's names, with what was dropped and any problem the
    rewrite itself found (e.g. references for a model that takes none)."""

    body: JSONObject
    dropped: tuple[str, ...]
    problems: tuple[FieldProblem, ...]


class RequestSchema:
    """A model's JSON request schema with Oxen's extensions (``x-order``, ``x-hidden``, ...)."""

    def __init__(
        self,
        raw: Mapping[str, Any],
        *,
        cost_per_image: Decimal | None = None,
        cost_per_image_grid: Mapping[str, Mapping[str, Decimal]] | None = None,
    ) -> None:
        properties = raw.get("properties")
        self.raw: dict[str, Any] = dict(raw)
        self.properties: dict[str, dict[str, Any]] = {
            name: dict(prop)
            for name, prop in (properties.items() if isinstance(properties, Mapping) else ())
            if isinstance(prop, Mapping)
        }
        required = raw.get("required")
        self.required: frozenset[str] = frozenset(
            r for r in (required if isinstance(required, list) else ()) if isinstance(r, str)
        )
        basic = raw.get("basic")
        self.basic: frozenset[str] = frozenset(
            b for b in (basic if isinstance(basic, list) else ()) if isinstance(b, str)
        )
        self.cost_per_image = cost_per_image
        self.cost_per_image_grid = {
            quality: dict(tiers) for quality, tiers in (cost_per_image_grid or {}).items()
        }

    @classmethod
    def from_model(cls, model: Model) -> RequestSchema:
        """The schema of a model object, with its price; an empty schema if it has none."""
        return cls(
            model.request_schema or {},
            cost_per_image=model.pricing.cost_per_image,
            cost_per_image_grid=model.pricing.cost_per_image_grid,
        )

    def price_for(self, parameters: Mapping[str, Any]) -> Decimal | None:
        """The price of one image made with ``parameters``: the grid's price for its size
        tier ("2K", "4K") when the model publishes one (the highest over qualities, since the
        request does not choose a quality: an estimate errs above the bill), else the flat
        ``cost_per_image``; None when the model states no price."""
        tier = parameters.get("size")
        if tier is None:
            tier = self.properties.get("size", {}).get("default")
        prices = [
            tiers[tier]
            for tiers in self.cost_per_image_grid.values()
            if isinstance(tier, str) and tier in tiers
        ]
        return max(prices) if prices else self.cost_per_image

    def prices_by_size(self) -> dict[str, Decimal]:
        """The price of one image for each size the schema offers (the form's estimate)."""
        sizes = self.properties.get("size", {}).get("enum") or []
        return {
            size: price
            for size in sizes
            if isinstance(size, str) and (price := self.price_for({"size": size})) is not None
        }

    def as_json(self) -> JSONObject:
        """A JSON-safe snapshot (schema and prices) to store as the last good schema, so a
        form can still render and submits still validate while Oxen is unreachable."""
        cost = None if self.cost_per_image is None else str(self.cost_per_image)
        grid: JSONObject = {
            quality: {tier: str(price) for tier, price in tiers.items()}
            for quality, tiers in self.cost_per_image_grid.items()
        }
        return {"request_schema": self.raw, "cost_per_image": cost, "cost_per_image_grid": grid}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RequestSchema:
        """Rebuild a schema stored with :meth:`as_json` (``ValueError`` if it is not one)."""
        raw, cost = data.get("request_schema"), data.get("cost_per_image")
        if not isinstance(raw, Mapping) or not isinstance(cost, str | None):
            raise ValueError("not a stored request schema")
        grid = data.get("cost_per_image_grid") or {}  # absent in copies stored before it
        if not isinstance(grid, Mapping):
            raise ValueError("not a stored request schema")
        return cls(
            raw,
            cost_per_image=None if cost is None else Decimal(cost),
            cost_per_image_grid={
                str(quality): {str(tier): Decimal(str(price)) for tier, price in tiers.items()}
                for quality, tiers in grid.items()
                if isinstance(tiers, Mapping)
            },
        )

    # -- reference fields ----------------------------------------------------------------------

    @property
    def reference_fields(self) -> tuple[str, ...]:
        """Declared fields that take reference images, in merge order."""
        named = [name for name in REFERENCE_ALIASES if name in self.properties]
        extra = [
            name
            for name, prop in self.properties.items()
            if name not in named
            and (name in self._media_reference_fields() or prop.get("renderType") == "image-url")
        ]
        return (*named, *extra)

    @property
    def reference_layout(self) -> ReferenceLayout:
        """How this schema wants references written (see the module docstring)."""
        single = self._prop_type("input_image")
        plural = self._prop_type("input_images")
        if single == "array":
            return "array"
        if single == "string" and plural == "array":
            return "legacy"
        if plural == "array":
            return "list_only"
        if single == "string":
            return "single"
        if any(self._prop_type(name) == "array" for name in self.reference_fields):
            return "array"
        return "none"

    @property
    def reference_max_items(self) -> int | None:
        """How many reference images the model takes (``None`` if the schema sets no limit)."""
        field_name = self._reference_list_field()
        if field_name is None:
            return 1 if self.reference_layout == "single" else 0
        limit = self.properties[field_name].get("maxItems")
        return limit if isinstance(limit, int) and not isinstance(limit, bool) else None

    # -- shaping -------------------------------------------------------------------------------

    def shape(self, request: Mapping[str, JSONValue]) -> ShapedRequest:
        """Rewrite ``request`` (either era's names) into the form this schema declares."""
        references = collect_references(request, extra_fields=self.reference_fields)
        reference_names = {*REFERENCE_ALIASES, *self.reference_fields}
        body: JSONObject = {}
        dropped: list[str] = []
        for name, value in request.items():
            if name in reference_names:
                continue
            if name in self.properties or name in PASSTHROUGH_FIELDS:
                body[name] = value
            else:
                dropped.append(name)
        problems = self._place_references(body, references)
        return ShapedRequest(body=body, dropped=tuple(dropped), problems=tuple(problems))

    def _place_references(self, body: JSONObject, references: list[str]) -> list[FieldProblem]:
        if not references:
            return []
        layout = self.reference_layout
        if layout == "legacy":
            body["input_image"] = references[0]
            body["input_images"] = list(references)
        elif layout == "single":
            body["input_image"] = references[0]
            if len(references) > 1:
                return [_too_many("input_image", 1, len(references))]
        elif layout == "none":
            return [
                FieldProblem(
                    "input_image",
                    "unsupported",
                    "input_image: this model does not take reference images",
                )
            ]
        else:
            list_field = self._reference_list_field()
            assert list_field is not None  # array/list_only layouts always have one
            body[list_field] = list(references)
        return []

    # -- validation ----------------------------------------------------------------------------

    def validate(self, body: Mapping[str, JSONValue]) -> list[FieldProblem]:
        """Every problem of an already shaped ``body``, in field order; empty when valid."""
        problems: list[FieldProblem] = []
        for name in sorted(self.required, key=self._sort_key):
            value = body.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                problems.append(FieldProblem(name, "required", f"{name}: required"))
        for name, value in body.items():
            rules = self.properties.get(name) or PASSTHROUGH_RULES.get(name)
            if rules is None or (value is None and name not in self.required):
                continue
            if name in self.required and value is None:
                continue  # already reported as missing
            problems.extend(check_value(name, name, value, rules))
        return problems

    def prepare(self, request: Mapping[str, JSONValue]) -> JSONObject:
        """Shape then validate; return the body to send or raise :class:`SchemaValidationError`
        listing every problem."""
        shaped = self.shape(request)
        problems = [*shaped.problems, *self.validate(shaped.body)]
        if problems:
            raise SchemaValidationError(problems)
        return shaped.body

    # -- form description ----------------------------------------------------------------------

    def form_fields(self) -> list[FieldSpec]:
        """Parameters a form should render, ordered by ``x-order``; prompt and reference
        fields are left out because the form has dedicated widgets for them."""
        skip = {"prompt", *REFERENCE_ALIASES, *self.reference_fields}
        names = sorted((n for n in self.properties if n not in skip), key=self._sort_key)
        return [self._field_spec(name) for name in names]

    def _field_spec(self, name: str) -> FieldSpec:
        prop = self.properties[name]
        enum = prop.get("enum")
        return FieldSpec(
            name=name,
            type=self._prop_type(name),
            title=str(prop.get("title") or name.replace("_", " ").capitalize()),
            description=prop.get("description")
            if isinstance(prop.get("description"), str)
            else None,
            enum=tuple(enum) if isinstance(enum, list) else None,
            default=prop.get("default"),
            minimum=_number(prop.get("minimum")),
            maximum=_number(prop.get("maximum")),
            hidden=bool(prop.get("x-hidden")),
            order=_order(prop),
            required=name in self.required,
            basic=name in self.basic,
        )

    # -- helpers -------------------------------------------------------------------------------

    def _prop_type(self, name: str) -> str | None:
        prop = self.properties.get(name)
        if prop is None:
            return None
        declared = prop.get("type")
        if isinstance(declared, list):
            declared = next((t for t in declared if t != "null"), None)
        return declared if isinstance(declared, str) else None

    def _reference_list_field(self) -> str | None:
        for name in ("input_image", "input_images", *self.reference_fields):
            if self._prop_type(name) == "array":
                return name
        return None

    def _media_reference_fields(self) -> list[str]:
        refs = self.properties.get("prompt", {}).get("x-media-references")
        groups = refs.get("groups") if isinstance(refs, Mapping) else None
        if not isinstance(groups, list):
            return []
        return [
            g["field"] for g in groups if isinstance(g, Mapping) and isinstance(g.get("field"), str)
        ]

    def _sort_key(self, name: str) -> tuple[int, float, int]:
        order = _order(self.properties.get(name, {}))
        position = list(self.properties).index(name) if name in self.properties else 10_000
        return (order is None, float(order or 0), position)


def collect_references(
    request: Mapping[str, JSONValue], *, extra_fields: Sequence[str] = ()
) -> list[str]:
    """Every reference in ``request``, from either era's fields, in order, exact duplicates
    removed. Non-string items are kept (as-is) so validation can report them."""
    references: list[Any] = []
    for name in dict.fromkeys((*REFERENCE_ALIASES, *extra_fields)):
        value = request.get(name)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if item not in references:
                references.append(item)
    return references


def is_valid_reference(value: str) -> bool:
    """An http(s) URL with a host, or a ``data:image/<type>;base64,<payload>`` URI."""
    if value.startswith("data:"):
        return _DATA_IMAGE_URI.fullmatch(value) is not None
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_value(
    field: str, path: str, value: JSONValue, rules: Mapping[str, Any]
) -> list[FieldProblem]:
    """Problems of one value against one property's rules; ``path`` names it in messages."""
    expected = rules.get("type")
    types = [
        t for t in (expected if isinstance(expected, list) else [expected]) if isinstance(t, str)
    ]
    if types and not any(_has_type(value, t) for t in types):
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        return [FieldProblem(field, "type", f"{path}: must be {wanted}, got {_describe(value)}")]
    problems: list[FieldProblem] = []
    enum = rules.get("enum")
    if isinstance(enum, list) and value not in enum:
        choices = ", ".join(str(c) for c in enum)
        problems.append(
            FieldProblem(field, "enum", f"{path}: must be one of {choices}; got {value!r}")
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        problems.extend(_check_number(field, path, value, rules))
    elif isinstance(value, str):
        problems.extend(_check_string(field, path, value, rules))
    elif isinstance(value, list):
        problems.extend(_check_array(field, path, value, rules))
    return problems


def _check_number(
    field: str, path: str, value: float, rules: Mapping[str, Any]
) -> list[FieldProblem]:
    problems = []
    minimum, maximum = _number(rules.get("minimum")), _number(rules.get("maximum"))
    if minimum is not None and value < minimum:
        problems.append(
            FieldProblem(field, "minimum", f"{path}: at least {_num(minimum)}, got {value}")
        )
    if maximum is not None and value > maximum:
        problems.append(
            FieldProblem(field, "maximum", f"{path}: at most {_num(maximum)}, got {value}")
        )
    low, high = _number(rules.get("exclusiveMinimum")), _number(rules.get("exclusiveMaximum"))
    if low is not None and value <= low:
        problems.append(
            FieldProblem(field, "exclusiveMinimum", f"{path}: more than {_num(low)}, got {value}")
        )
    if high is not None and value >= high:
        problems.append(
            FieldProblem(field, "exclusiveMaximum", f"{path}: less than {_num(high)}, got {value}")
        )
    return problems


def _check_string(
    field: str, path: str, value: str, rules: Mapping[str, Any]
) -> list[FieldProblem]:
    problems = []
    min_length, max_length = rules.get("minLength"), rules.get("maxLength")
    if isinstance(min_length, int) and len(value) < min_length:
        problems.append(
            FieldProblem(field, "minLength", f"{path}: at least {min_length} characters")
        )
    if isinstance(max_length, int) and len(value) > max_length:
        problems.append(
            FieldProblem(
                field, "maxLength", f"{path}: at most {max_length} characters, got {len(value)}"
            )
        )
    pattern = rules.get("pattern")
    if isinstance(pattern, str) and re.search(pattern, value) is None:
        problems.append(FieldProblem(field, "pattern", f"{path}: does not match {pattern}"))
    if rules.get("format") == "uri" and not is_valid_reference(value):
        problems.append(
            FieldProblem(
                field,
                "format",
                f"{path}: must be an http(s) URL or a data:image/...;base64 URI",
            )
        )
    return problems


def _check_array(
    field: str, path: str, value: list[JSONValue], rules: Mapping[str, Any]
) -> list[FieldProblem]:
    problems = []
    min_items, max_items = rules.get("minItems"), rules.get("maxItems")
    if isinstance(max_items, int) and len(value) > max_items:
        problems.append(_too_many(field, max_items, len(value), path=path))
    if isinstance(min_items, int) and len(value) < min_items:
        problems.append(
            FieldProblem(field, "minItems", f"{path}: at least {min_items} items, got {len(value)}")
        )
    items = rules.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            problems.extend(check_value(field, f"{path}[{index}]", item, items))
    return problems


def _too_many(field: str, limit: int, count: int, *, path: str | None = None) -> FieldProblem:
    noun = "item" if limit == 1 else "items"
    return FieldProblem(field, "maxItems", f"{path or field}: at most {limit} {noun}, got {count}")


def _has_type(value: object, type_name: object) -> bool:
    match type_name:
        case "string":
            return isinstance(value, str)
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            return (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, float) and value.is_integer()
            )
        case "number":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        case "array":
            return isinstance(value, list)
        case "object":
            return isinstance(value, dict)
        case "null":
            return value is None
    return True  # an unknown type name constrains nothing


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _order(prop: Mapping[str, Any]) -> int | None:
    order = prop.get("x-order")
    return order if isinstance(order, int) and not isinstance(order, bool) else None


class SchemaCache:
    """Request schemas by (base URL, model), each kept for ``ttl`` seconds (thread-safe).

    Process-wide so that cheap, short-lived clients still share one schema read.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, RequestSchema]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> RequestSchema | None:
        """The cached schema, or ``None`` if absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def put(self, key: tuple[str, str], schema: RequestSchema, ttl: float) -> None:
        """Remember ``schema`` for ``ttl`` seconds (``ttl <= 0`` stores nothing)."""
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl, schema)

    def forget(self, key: tuple[str, str] | None = None) -> None:
        """Drop one entry, or all of them."""
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)
