"""Request schema handling: shaping either era's names into the live schema's, validation
that reports every problem with its field and rule, and the form description."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from seedream.errors import FieldProblem, SchemaValidationError
from seedream.responses import parse_model
from seedream.schema import RequestSchema, is_valid_reference
from tests.seedream.conftest import current_schema, legacy_schema, model_body
from tests.seedream.contract import CURRENT_SCHEMA, LEGACY_SCHEMA

A = "https://hub.oxen.ai/api/repos/me/refs/file/main/a.png"
B = "https://hub.oxen.ai/api/repos/me/refs/file/main/b.png"
C = "data:image/png;base64,iVBORw0KGgo="

OLD_STYLE = {
    "model": "bytedance-seedream-4-5",
    "prompt": "put @Image1 on a beach",
    "input_image": A,
    "input_images": [A, B],
    "size": "2K",
    "output_format": "jpeg",
    "watermark": False,
}
NEW_STYLE = {
    "model": "bytedance-seedream-4-5",
    "prompt": "put @Image1 on a beach",
    "input_image": [A, B],
    "size": "2K",
    "watermark": False,
}


@pytest.mark.parametrize("request_body", [OLD_STYLE, NEW_STYLE], ids=["old-names", "new-names"])
def test_current_schema_gets_every_reference_in_the_input_image_array(request_body):
    body = current_schema().prepare(request_body)

    assert body["input_image"] == [A, B]
    assert "input_images" not in body
    assert "output_format" not in body  # not declared by the current schema
    assert body["size"] == "2K"
    assert body["watermark"] is False


@pytest.mark.parametrize("request_body", [OLD_STYLE, NEW_STYLE], ids=["old-names", "new-names"])
def test_legacy_schema_gets_first_reference_as_string_and_all_in_input_images(request_body):
    body = legacy_schema().prepare({**request_body, "output_format": "jpeg"})

    assert body["input_image"] == A
    assert body["input_images"] == [A, B]
    assert body["output_format"] == "jpeg"


def test_legacy_schema_with_one_reference_sends_it_in_both_fields_like_the_product_page():
    body = legacy_schema().prepare({"prompt": "p", "input_image": [A]})

    assert body == {"prompt": "p", "input_image": A, "input_images": [A]}


def test_references_keep_their_order_and_lose_exact_duplicates():
    shaped = current_schema().shape({"prompt": "p", "input_image": B, "input_images": [A, B, C]})

    assert shaped.body["input_image"] == [B, A, C]


def test_undeclared_fields_are_dropped_but_queue_and_generic_fields_pass_through():
    shaped = current_schema().shape(
        {
            "model": "bytedance-seedream-4-5",
            "prompt": "p",
            "aspect_ratio": "16:9",
            "seed": 3,
            "output_format": "jpeg",
            "response_format": "url",
            "num_generations": 2,
            "target_namespace": "team",
            "target_repo": "gallery",
            "target_directory": "out",
        }
    )

    assert set(shaped.dropped) == {"aspect_ratio", "seed", "output_format"}
    assert shaped.body == {
        "model": "bytedance-seedream-4-5",
        "prompt": "p",
        "response_format": "url",
        "num_generations": 2,
        "target_namespace": "team",
        "target_repo": "gallery",
        "target_directory": "out",
    }


def test_no_references_means_no_reference_fields_in_either_era():
    assert "input_image" not in current_schema().prepare({"prompt": "p"})
    assert legacy_schema().prepare({"prompt": "p"}) == {"prompt": "p"}


def test_schema_with_only_input_images_array_gets_all_references_there():
    schema_json = copy.deepcopy(LEGACY_SCHEMA)
    del schema_json["properties"]["input_image"]
    body = RequestSchema(schema_json).prepare({"prompt": "p", "input_image": [A, B]})

    assert body["input_images"] == [A, B]
    assert "input_image" not in body


def test_too_many_references_names_the_field_and_the_rule():
    references = [f"https://hub.oxen.ai/r/{i}.png" for i in range(15)]

    with pytest.raises(SchemaValidationError) as caught:
        current_schema().prepare({"prompt": "p", "input_image": references})

    assert caught.value.problems == (
        FieldProblem("input_image", "maxItems", "input_image: at most 14 items, got 15"),
    )
    assert caught.value.field == "input_image"
    assert caught.value.rule == "maxItems"


def test_legacy_schema_counts_all_references_against_input_images_max_items():
    references = [f"https://hub.oxen.ai/r/{i}.png" for i in range(15)]

    with pytest.raises(SchemaValidationError) as caught:
        legacy_schema().prepare({"prompt": "p", "input_image": references})

    assert [(p.field, p.rule) for p in caught.value.problems] == [("input_images", "maxItems")]


def test_validation_reports_every_problem_at_once():
    problems = current_schema().validate(
        {
            "prompt": "   ",
            "size": "8K",
            "watermark": "yes",
            "input_image": ["ftp://example.com/a.png", "data:image/png;base64,", A],
            "num_generations": 5,
        }
    )

    assert [(p.field, p.rule) for p in problems] == [
        ("prompt", "required"),
        ("size", "enum"),
        ("watermark", "type"),
        ("input_image", "format"),
        ("input_image", "format"),
        ("num_generations", "maximum"),
    ]
    messages = [p.message for p in problems]
    assert "size: must be one of 2K, 4K; got '8K'" in messages
    assert "input_image[0]: must be an http(s) URL or a data:image/...;base64 URI" in messages
    assert "num_generations: at most 4, got 5" in messages


def test_missing_required_prompt_is_a_required_problem():
    with pytest.raises(SchemaValidationError) as caught:
        current_schema().prepare({"size": "2K"})

    assert caught.value.by_field() == {"prompt": ["prompt: required"]}


def test_output_format_outside_the_legacy_enum_is_rejected_not_rewritten():
    problems = legacy_schema().validate({"prompt": "p", "output_format": "png"})

    assert [(p.field, p.rule) for p in problems] == [("output_format", "enum")]


def test_numeric_bounds_and_integer_type_come_from_the_schema():
    schema = RequestSchema(
        {
            "properties": {
                "prompt": {"type": "string"},
                "steps": {"type": "integer", "minimum": 1, "maximum": 50},
                "strength": {"type": "number", "exclusiveMaximum": 1},
            }
        }
    )

    problems = schema.validate({"prompt": "p", "steps": 0, "strength": 1.0})
    assert [(p.field, p.rule) for p in problems] == [
        ("steps", "minimum"),
        ("strength", "exclusiveMaximum"),
    ]
    assert [p.rule for p in schema.validate({"prompt": "p", "steps": True})] == ["type"]
    assert schema.validate({"prompt": "p", "steps": 20, "strength": 0.5}) == []


def test_references_for_a_model_without_reference_fields_are_a_problem():
    schema = RequestSchema({"properties": {"prompt": {"type": "string"}}})

    with pytest.raises(SchemaValidationError) as caught:
        schema.prepare({"prompt": "p", "input_image": [A]})

    assert caught.value.rule == "unsupported"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (A, True),
        ("http://127.0.0.1:8000/x.png", True),
        (C, True),
        ("data:image/webp;base64,UklGRg==", True),
        ("data:text/html;base64,PGgxPg==", False),
        ("data:image/png,rawbytes", False),
        ("javascript:alert(1)", False),
        ("file:///etc/passwd", False),
        ("https://", False),
        ("not a url", False),
    ],
)
def test_a_reference_is_an_http_url_or_a_base64_image_data_uri(value, valid):
    assert is_valid_reference(value) is valid


def test_form_fields_are_ordered_and_exclude_prompt_and_references():
    fields = current_schema().form_fields()

    assert [f.name for f in fields] == ["size", "watermark"]
    size = fields[0]
    assert size.type == "string"
    assert size.title == "Size"
    assert size.enum == ("2K", "4K")
    assert size.default == "2K"
    assert size.order == 3
    assert size.hidden is False
    assert fields[1].default is False


def test_a_new_schema_field_appears_in_the_form_without_code_changes():
    schema_json = copy.deepcopy(CURRENT_SCHEMA)
    schema_json["properties"]["guidance"] = {
        "type": "number",
        "title": "Guidance",
        "minimum": 1,
        "maximum": 10,
        "default": 5,
        "x-order": 4,
    }
    schema_json["properties"]["internal"] = {"type": "string", "x-hidden": True}

    fields = {f.name: f for f in RequestSchema(schema_json).form_fields()}

    assert list(fields) == ["size", "guidance", "watermark", "internal"]
    assert (fields["guidance"].minimum, fields["guidance"].maximum) == (1.0, 10.0)
    assert fields["internal"].hidden is True


def test_legacy_form_fields_include_output_format_but_no_reference_fields():
    assert [f.name for f in legacy_schema().form_fields()] == ["size", "output_format", "watermark"]


def test_reference_max_items_in_both_eras():
    assert current_schema().reference_max_items == 14
    assert legacy_schema().reference_max_items == 14
    assert current_schema().reference_layout == "array"
    assert legacy_schema().reference_layout == "legacy"


@pytest.mark.parametrize("field_name", ["request_schema", "json_request_schema"])
def test_model_schema_is_read_from_either_field_with_its_price(field_name):
    model = parse_model(model_body(CURRENT_SCHEMA, field_name=field_name))
    schema = RequestSchema.from_model(model)

    assert schema.reference_max_items == 14
    assert schema.cost_per_image == Decimal("0.04")
    assert model.pricing.cost_per_image == Decimal("0.04")


def test_schema_validation_error_message_lists_each_problem_for_users():
    error = SchemaValidationError(
        [
            FieldProblem("size", "enum", "size: must be one of 2K, 4K; got '8K'"),
            FieldProblem("prompt", "required", "prompt: required"),
        ]
    )

    assert "size: must be one of 2K, 4K" in error.user_message
    assert "prompt: required" in str(error)


# -- prices by size (issue 11) ---------------------------------------------------------------------


def _priced(grid: object) -> RequestSchema:
    body = model_body(copy.deepcopy(CURRENT_SCHEMA))
    body["pricing"]["cost_per_image_grid"] = grid
    return RequestSchema.from_model(parse_model(body))


def test_a_price_grid_prices_each_size_and_the_flat_price_covers_the_rest() -> None:
    schema = _priced({"standard": {"4K": "0.06"}, "high": {"4K": 0.08, "2K": "0.05"}})
    assert schema.price_for({"size": "4K"}) == Decimal("0.08")  # the highest quality's price
    assert schema.price_for({"size": "2K"}) == Decimal("0.05")
    assert schema.price_for({"size": "1K"}) == Decimal("0.04")  # not in the grid: flat price
    default = CURRENT_SCHEMA["properties"]["size"]["default"]
    assert schema.price_for({}) == schema.price_for({"size": default})
    assert schema.prices_by_size() == {
        size: schema.price_for({"size": size})
        for size in CURRENT_SCHEMA["properties"]["size"]["enum"]
    }


def test_without_a_grid_every_size_costs_the_flat_price() -> None:
    schema = _priced(None)
    assert schema.price_for({"size": "4K"}) == schema.price_for({"size": "2K"}) == Decimal("0.04")


def test_a_malformed_grid_is_ignored_not_an_error() -> None:
    schema = _priced({"high": {"4K": "lots", "2K": -1}, "odd": [1, 2], "7": "x"})
    assert schema.cost_per_image_grid == {}
    assert schema.price_for({"size": "4K"}) == Decimal("0.04")


def test_the_stored_copy_keeps_the_grid_and_older_copies_still_load() -> None:
    schema = _priced({"high": {"4K": "0.08"}})
    again = RequestSchema.from_json(schema.as_json())
    assert again.price_for({"size": "4K"}) == Decimal("0.08")
    older = {k: v for k, v in schema.as_json().items() if k != "cost_per_image_grid"}
    assert RequestSchema.from_json(older).price_for({"size": "4K"}) == Decimal("0.04")
