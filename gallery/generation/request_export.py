"""A generation request written out as a command a person can run themselves: cURL or Python.

The body is what the gallery sent to ``POST /api/ai/queue`` (``GenerationRequest.request_body``),
or, before anything was sent, the same body shaped by the schema recorded with the request.
The API key is never written: the commands read it from ``$OXEN_API_KEY``.

Inline references are recorded as markers (``data:image/jpeg;base64,…(sha256=…)``), not bytes.
The commands turn each one back into a data URI built from a local file ``image<N>.<ext>``,
which the detail page links to (the stored reference; the gallery re-encodes it within
Seedream's limits before sending, so the bytes can differ slightly from what Oxen received).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from gallery.generation.create import request_body_draft
from gallery.generation.models import GenerationRequest, Reference
from seedream.mediatypes import extension, format_for_mime
from seedream.schema import RequestSchema

QUEUE_PATH = "/api/ai/queue"
# The gallery's own bookkeeping, meaningless (and misleading to its orphan search) elsewhere.
INTERNAL_FIELDS = ("target_directory",)
_MARKER = re.compile(r"^data:(image/[\w.+-]+);base64,…\(sha256=[0-9a-f]{64}")


@dataclass(frozen=True)
class LocalFile:
    """A reference the command reads from disk: where to save it, and where to get it."""

    filename: str
    mime: str
    reference: Reference | None


@dataclass(frozen=True)
class ExportedRequest:
    url: str
    body: dict[str, Any]
    files: list[LocalFile]  # in the order of the placeholders __SEEDREAM_REF_1__, ...

    def curl(self) -> str:
        text = json.dumps(self.body, indent=2, ensure_ascii=False)
        # An unquoted heredoc expands $, ` and \: escape them so the prompt arrives verbatim.
        text = text.replace("\\", "\\\\").replace("$", "\\$").replace("`", "\\`")
        for n, local in enumerate(self.files, start=1):
            text = text.replace(
                f'"{_placeholder(n)}"',
                f"\"data:{local.mime};base64,$(base64 < {local.filename} | tr -d '\\n')\"",
            )
        return (
            f"curl -sS -X POST {self.url} \\\n"
            '  -H "Authorization: Bearer $OXEN_API_KEY" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            f"  --data-binary @- <<EOF\n{text}\nEOF\n"
        )

    def python(self) -> str:
        body = _python_literal(self.body)
        for n, local in enumerate(self.files, start=1):
            body = body.replace(
                repr(_placeholder(n)), f"data_uri({local.filename!r}, {local.mime!r})"
            )
        lines = ["import os", "", "import httpx", ""]
        if self.files:
            lines = [
                "import base64",
                "import os",
                "from pathlib import Path",
                "",
                "import httpx",
                "",
                "",
                "def data_uri(path: str, mime: str) -> str:",
                '    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")',
                '    return f"data:{mime};base64,{data}"',
                "",
            ]
        lines += [
            "",
            f"body = {body}",
            "response = httpx.post(",
            f"    {self.url!r},",
            '    headers={"Authorization": f"Bearer {os.environ[\'OXEN_API_KEY\']}"},',
            "    json=body,",
            "    timeout=60,",
            ")",
            "response.raise_for_status()",
            "print(response.json())",
        ]
        return "\n".join(lines) + "\n"


def _python_literal(value: Any, level: int = 0) -> str:
    """``value`` as Python source, one item per line like ``json.dumps(indent=4)``."""
    pad, inner = "    " * level, "    " * (level + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{key!r}: {_python_literal(v, level + 1)}," for key, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        items = [f"{inner}{_python_literal(v, level + 1)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    return repr(value)


def _placeholder(n: int) -> str:
    return f"__SEEDREAM_REF_{n}__"


def request_export(request: GenerationRequest) -> ExportedRequest:
    references = request.ordered_references()
    body = dict(request.request_body) or _draft_body(request, references)
    for name in INTERNAL_FIELDS:
        body.pop(name, None)
    files: list[LocalFile] = []
    seen: dict[str, str] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, list):
            return [swap(item) for item in value]
        if not isinstance(value, str):
            return value
        match = _MARKER.match(value)
        if match is None:
            return value
        if value not in seen:  # the legacy layout repeats the first reference: one file
            mime = match.group(1)
            n = len(files) + 1
            files.append(
                LocalFile(
                    filename=f"image{n}.{_local_extension(mime)}",
                    mime=mime,
                    reference=references[n - 1] if n <= len(references) else None,
                )
            )
            seen[value] = _placeholder(n)
        return seen[value]

    body = {key: swap(value) for key, value in body.items()}
    url = settings.OXEN_BASE_URL.rstrip("/") + QUEUE_PATH
    return ExportedRequest(url=url, body=body, files=files)


def _draft_body(request: GenerationRequest, references: list[Reference]) -> dict[str, Any]:
    """The body as it would be sent (nothing was sent yet, or the record predates it)."""
    markers = [
        f"data:{ref.mime_type};base64,…(sha256={ref.sha256}, {ref.bytes} bytes)"
        for ref in references
    ]
    draft = request_body_draft(
        model=request.model,
        prompt=request.prompt,
        parameters=request.parameters,
        reference_values=markers,
    )
    draft["num_generations"] = 1
    if not request.request_schema:
        return draft
    return dict(RequestSchema(request.request_schema).shape(draft).body)


def _local_extension(mime: str) -> str:
    image_format = format_for_mime(mime)
    return extension(image_format) if image_format else "img"
