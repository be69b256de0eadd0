"""The model catalogue: Seedream 4.5's model object and its request schema in two eras.

"current" is the reconstructed 2026-08-07 schema of contract section 6, verbatim. "legacy" is the
2026-05-29 page (the older product page in ``/work/shared/seed``): ``input_image`` a single URI,
``input_images`` an array, and an ``output_format`` that only allows ``jpeg``.
"""

from __future__ import annotations

import copy
from typing import Any

from seedream.simulator.config import SchemaEra, SchemaField

SEEDREAM_MODEL = "bytedance-seedream-4-5"
SEEDREAM_MODEL_UUID = "4c5d0a51-5eed-4d45-9a11-000000000045"
# A text-only model, so "the model must output image or video" can be exercised.
CHAT_MODEL = "simulator-chat-model"
CHAT_MODEL_UUID = "4c5d0a51-5eed-4d45-9a11-0000000000c4"
COST_PER_IMAGE = "0.04"
MAX_REFERENCES = 14
SIZES = ("2K", "4K")

_PROMPT_DESCRIPTION = (
    "Text prompt for image generation. Use @Image1, @Image2, etc. to reference the input images."
)

CURRENT_SCHEMA: dict[str, Any] = {
    "title": "Input",
    "type": "object",
    "required": ["prompt"],
    "basic": ["input_image"],
    "properties": {
        "prompt": {
            "type": "string",
            "title": "Prompt",
            "x-order": 0,
            "description": _PROMPT_DESCRIPTION,
            "x-media-references": {"groups": [{"field": "input_image", "pattern": "Image {n}"}]},
        },
        "input_image": {
            "type": "array",
            "title": "Reference Images",
            "x-order": 1,
            "maxItems": 14,
            "items": {"type": "string", "format": "uri"},
            "description": (
                "Optional reference image URLs for image-to-image editing. Provide one image for "
                "single-image editing or multiple for multi-reference fusion; reference them in "
                "the prompt as @Image1, @Image2, etc. Up to 14 images."
            ),
        },
        "size": {
            "type": "string",
            "title": "Size",
            "enum": ["2K", "4K"],
            "default": "2K",
            "x-order": 3,
            "description": "Image resolution.",
        },
        "watermark": {
            "type": "boolean",
            "title": "Watermark",
            "default": False,
            "x-order": 5,
            "description": "Whether to add an 'AI generated' watermark.",
        },
    },
}

LEGACY_SCHEMA: dict[str, Any] = {
    "title": "Input",
    "type": "object",
    "required": ["prompt"],
    "basic": ["input_image", "input_images"],
    "properties": {
        "prompt": {
            "type": "string",
            "title": "Prompt",
            "x-order": 0,
            "description": "Text prompt for image generation.",
        },
        "input_image": {
            "type": "string",
            "title": "Input Image",
            "format": "uri",
            "x-order": 1,
            "renderType": "image-url",
            "description": (
                "Optional URL of a single reference image for image-to-image generation."
            ),
        },
        "input_images": {
            "type": "array",
            "title": "Input Images",
            "x-order": 2,
            "maxItems": 14,
            "items": {"type": "string", "format": "uri"},
            "description": (
                "Optional list of reference image URLs for multi-reference editing. "
                "Up to 14 images."
            ),
        },
        "size": {
            "type": "string",
            "title": "Size",
            "enum": ["2K", "4K"],
            "default": "2K",
            "x-order": 3,
            "description": "Image resolution.",
        },
        "output_format": {
            "type": "string",
            "title": "Output Format",
            "enum": ["jpeg"],
            "default": "jpeg",
            "x-order": 4,
            "description": "Output image format.",
        },
        "watermark": {
            "type": "boolean",
            "title": "Watermark",
            "default": False,
            "x-order": 5,
            "description": "Whether to add an 'AI generated' watermark.",
        },
    },
}

_CHAT_SCHEMA: dict[str, Any] = {
    "title": "Input",
    "type": "object",
    "required": ["messages"],
    "properties": {"messages": {"type": "array", "title": "Messages", "x-order": 0}},
}


def request_schema(era: SchemaEra) -> dict[str, Any]:
    """A fresh copy of Seedream 4.5's request schema as published in ``era``."""
    return copy.deepcopy(CURRENT_SCHEMA if era == "current" else LEGACY_SCHEMA)


def _with_schema(model: dict[str, Any], schema: dict[str, Any], field: SchemaField) -> None:
    if field in ("request_schema", "both"):
        model["request_schema"] = schema
    if field in ("json_request_schema", "both"):
        model["json_request_schema"] = copy.deepcopy(schema)


def seedream_model(era: SchemaEra, field: SchemaField) -> dict[str, Any]:
    """The model object ``GET /api/ai/models/bytedance-seedream-4-5`` returns (contract 6)."""
    model: dict[str, Any] = {
        "id": SEEDREAM_MODEL,
        "uuid": SEEDREAM_MODEL_UUID,
        "object": "model",
        "created": 1764000000,
        "owned_by": "oxen",
        "display_name": "Seedream 4.5",
        "description": (
            "ByteDance Seedream 4.5 generates images from a text prompt, with single-image and "
            "multi-reference image-to-image editing. Supports 2K and 4K output resolutions."
        ),
        "summary": "Text-to-image and multi-reference image editing at 2K/4K.",
        "model_type": "base",
        "endpoint": "/images/generate",
        "capabilities": {"input": ["text", "image"], "output": ["image"]},
        "pricing": {"method": "per_image", "cost_per_image": 0.04, "cost_per_image_grid": None},
        "fine_tuning": None,
        "deployments": [],
        "developer": {"name": "ByteDance", "logo": None},
        "source_model": None,
        "image_url": None,
        "released_at": "2025-12-01",
        "showcase": None,
    }
    _with_schema(model, request_schema(era), field)
    return model


def chat_model(field: SchemaField) -> dict[str, Any]:
    """A text-only model; enqueueing it yields ``unsupported_media_type``."""
    model: dict[str, Any] = {
        "id": CHAT_MODEL,
        "uuid": CHAT_MODEL_UUID,
        "object": "model",
        "created": 1764000000,
        "owned_by": "oxen",
        "display_name": "Simulator chat model",
        "description": "A text-only model that exists only in the local simulator.",
        "summary": "Text only.",
        "model_type": "base",
        "endpoint": "/chat/completions",
        "capabilities": {"input": ["text"], "output": ["text"]},
        "pricing": {"method": "token", "cost_per_image": None, "cost_per_image_grid": None},
        "fine_tuning": None,
        "deployments": [],
        "developer": {"name": "Oxen simulator", "logo": None},
        "source_model": None,
        "image_url": None,
        "released_at": "2026-01-01",
        "showcase": None,
    }
    _with_schema(model, copy.deepcopy(_CHAT_SCHEMA), field)
    return model


def all_models(era: SchemaEra, field: SchemaField) -> list[dict[str, Any]]:
    """Every model in the simulator's catalogue."""
    return [seedream_model(era, field), chat_model(field)]


def find_model(model_id: str, era: SchemaEra, field: SchemaField) -> dict[str, Any] | None:
    """Look a model up by name or UUID, as the real route does."""
    for model in all_models(era, field):
        if model_id in (model["id"], model["uuid"]):
            return model
    return None


def outputs_images(model: dict[str, Any]) -> bool:
    """Whether the queue accepts this model (it must output image or video)."""
    outputs = model["capabilities"]["output"]
    return "image" in outputs or "video" in outputs
