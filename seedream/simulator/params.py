"""Validation of Seedream 4.5 model parameters, shared by the sync routes and the queue worker.

The sync routes answer a problem with 400 ``invalid_params``; the queue accepts anything at
enqueue and fails the generation later with the upstream-style 422 message (contract 4.1).
Both eras' shapes are accepted: ``input_image`` as a string or an array, plus ``input_images``.
"""

from __future__ import annotations

from typing import Any

from seedream.simulator.schemas import MAX_REFERENCES, SIZES

PROMPT_EMPTY = "Prompt cannot be empty"


def _string_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def reference_urls(body: dict[str, Any]) -> list[str]:
    """The reference images in prompt order (@Image1 first): ``input_image`` then ``input_images``.

    Call only on a body that :func:`model_params_problem` accepted.
    """
    urls: list[str] = []
    single = body.get("input_image")
    if isinstance(single, str):
        urls.append(single)
    elif isinstance(single, list):
        urls.extend(single)
    many = body.get("input_images")
    if isinstance(many, list):
        urls.extend(many)
    return urls


def model_params_problem(body: dict[str, Any]) -> str | None:
    """The first thing wrong with the model parameters, as a readable sentence, or None."""
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        return "prompt must be a string"
    if not prompt or not prompt.strip():
        return PROMPT_EMPTY
    single = body.get("input_image")
    if single is not None and not isinstance(single, str) and _string_list(single) is None:
        return "input_image must be a URL string or an array of URL strings"
    many = body.get("input_images")
    if many is not None and _string_list(many) is None:
        return "input_images must be an array of URL strings"
    count = len(reference_urls(body))
    if count > MAX_REFERENCES:
        return f"At most {MAX_REFERENCES} reference images are allowed, got {count}"
    size = body.get("size")
    if size is not None and size not in SIZES:
        return f"size must be one of: {', '.join(SIZES)} (got {size!r})"
    watermark = body.get("watermark")
    if watermark is not None and not isinstance(watermark, bool):
        return "watermark must be a boolean"
    output_format = body.get("output_format")
    if output_format is not None and output_format != "jpeg":
        return f"output_format must be one of: jpeg (got {output_format!r})"
    return None


def size_of(body: dict[str, Any]) -> str:
    """The requested size preset, defaulting to 2K like both schema eras."""
    size = body.get("size")
    return size if isinstance(size, str) and size in SIZES else "2K"
