"""The request schemas of the Oxen contract (shared/oxen-api.md), written out once for every test.

Copied from the contract on purpose, not imported from ``seedream.simulator``: the client's
unit tests check it against the contract's text and the simulator's tests check the simulator
against the same text, so a mistake in either does not hide itself.
"""

from __future__ import annotations

from typing import Any

# Contract section 6, verbatim.
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
            "description": "Text prompt for image generation. Use @Image1, @Image2, etc. to "
            "reference the input images.",
            "x-media-references": {"groups": [{"field": "input_image", "pattern": "Image {n}"}]},
        },
        "input_image": {
            "type": "array",
            "title": "Reference Images",
            "x-order": 1,
            "maxItems": 14,
            "items": {"type": "string", "format": "uri"},
            "description": "Optional reference image URLs for image-to-image editing. Provide "
            "one image for single-image editing or multiple for multi-reference fusion; "
            "reference them in the prompt as @Image1, @Image2, etc. Up to 14 images.",
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

# The older product page (shared/seed): input_image string + input_images array, output_format.
LEGACY_SCHEMA: dict[str, Any] = {
    "title": "Input",
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string", "title": "Prompt", "x-order": 0},
        "input_image": {
            "type": "string",
            "format": "uri",
            "title": "Input Image",
            "x-order": 1,
            "description": "Optional URL of a single reference image.",
        },
        "input_images": {
            "type": "array",
            "title": "Input Images",
            "x-order": 2,
            "maxItems": 14,
            "items": {"type": "string", "format": "uri"},
        },
        "size": {"type": "string", "enum": ["2K", "4K"], "default": "2K", "x-order": 3},
        "output_format": {"type": "string", "enum": ["jpeg"], "default": "jpeg", "x-order": 4},
        "watermark": {"type": "boolean", "default": False, "x-order": 5},
    },
}
