"""Typed views of Oxen's JSON responses, and the strict parsers that build them.

A body that does not match the contract raises :class:`~seedream.errors.MalformedResponseError`
(a transient error: a proxy's HTML page or a half-written body is worth another try), so the
rest of the app only ever sees these dataclasses, never raw dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, TypeGuard, get_args

from seedream.errors import MalformedResponseError

type JSONValue = str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None
type JSONObject = dict[str, JSONValue]

GenerationStatus = Literal["queued", "processing", "succeeded", "failed", "cancelled"]
CompletionStatus = Literal["succeeded", "failed"]
MediaType = Literal["image", "video"]

GENERATION_STATUSES: Final = frozenset(get_args(GenerationStatus))
TERMINAL_STATUSES: Final = frozenset({"succeeded", "failed", "cancelled"})

# Keys of a generation detail that are not echoed request parameters.
_DETAIL_FIELDS: Final = frozenset({"cost", "user_id", "username", "user_image"})


@dataclass(frozen=True, kw_only=True)
class QueuedGeneration:
    """One entry of ``POST /api/ai/queue``'s answer."""

    generation_id: str
    status: GenerationStatus


@dataclass(frozen=True, kw_only=True)
class QueueGeneration:
    """A generation's row from ``GET /api/ai/queue/{id}`` (or the list)."""

    generation_id: str
    model_name: str
    media_type: MediaType
    status: GenerationStatus
    enqueued_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result_url: str | None = None
    error_message: str | None = None
    prompt: str | None = None
    target_namespace: str | None = None
    target_repo: str | None = None
    target_directory: str | None = None
    # The original request's other parameters (size, input_image, ...), echoed by Oxen.
    params: JSONObject = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        """True once the generation has succeeded, failed or been cancelled."""
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, kw_only=True)
class QueueList:
    """``GET /api/ai/queue``: active generations unless a status filter was given."""

    count: int
    generations: tuple[QueueGeneration, ...]


@dataclass(frozen=True, kw_only=True)
class GenerationDetail(QueueGeneration):
    """``GET /api/ai/generations/{id}``: the queue row plus the charged cost."""

    cost: Decimal | None = None
    user_id: str | None = None
    username: str | None = None


@dataclass(frozen=True, kw_only=True)
class GenerationPage:
    """One page of ``GET /api/ai/generations``: history rows with costs, newest first."""

    count: int
    page_number: int
    page_size: int
    total_pages: int
    total_entries: int
    total_cost: Decimal | None
    generations: tuple[GenerationDetail, ...]


@dataclass(frozen=True, kw_only=True)
class CancelResult:
    """``DELETE /api/ai/queue/{id}``'s answer."""

    generation_id: str
    status: str


@dataclass(frozen=True, kw_only=True)
class CompletionEvent:
    """A ``media_generation_completed`` event from ``/api/events``."""

    generation_id: str
    status: CompletionStatus
    media_type: str
    model: str | None = None
    url: str | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ImageResult:
    """One item of ``images[]``: a temporary ``url`` or inline ``b64_json``."""

    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


@dataclass(frozen=True, kw_only=True)
class ImagesResponse:
    """The answer of the sync ``/api/ai/images/edit`` and ``/generate`` routes."""

    model: str | None
    created: datetime | None
    images: tuple[ImageResult, ...]


@dataclass(frozen=True, kw_only=True)
class Pricing:
    """A model's ``pricing`` block; money as ``Decimal``."""

    method: str | None
    cost_per_image: Decimal | None
    # Optional: price by quality, then resolution tier ({"high": {"4K": 1.47}}), contract §6.
    cost_per_image_grid: Mapping[str, Mapping[str, Decimal]] | None = None


@dataclass(frozen=True, kw_only=True)
class Model:
    """``GET /api/ai/models/{id}``; ``request_schema`` falls back to ``json_request_schema``."""

    id: str
    display_name: str | None
    description: str | None
    endpoint: str | None
    pricing: Pricing
    request_schema: JSONObject | None
    raw: JSONObject


@dataclass(frozen=True, kw_only=True)
class Commit:
    """The commit an upload created."""

    id: str
    message: str | None = None
    timestamp: str | None = None


@dataclass(frozen=True, kw_only=True)
class UploadResult:
    """A file stored in an Oxen repository, with its public URLs."""

    commit: Commit | None
    url: str  # .../file/{branch}/{path}: follows the branch
    pinned_url: str | None  # .../file/{commit_id}/{path}: immutable


# Keys of a queue row that have their own attribute; every other key is an echoed parameter.
_QUEUE_ROW_FIELDS: Final = frozenset(f.name for f in fields(QueueGeneration)) - {"params"}


# -- parsers -----------------------------------------------------------------------------------


def parse_queued(body: object) -> tuple[QueuedGeneration, ...]:
    """Parse ``POST /api/ai/queue``; the empty/``error`` failure case is the client's job."""
    data = _object(body, "queue submit")
    items = data.get("generations")
    if not isinstance(items, list):
        raise MalformedResponseError("queue submit: 'generations' is not a list")
    result = []
    for item in items:
        row = _object(item, "queue submit item")
        result.append(
            QueuedGeneration(
                generation_id=_str(row, "generation_id"),
                status=_status(row.get("status", "queued")),
            )
        )
    return tuple(result)


def parse_queue_generation(body: object) -> QueueGeneration:
    """Parse one queue row."""
    data = _object(body, "queue row")
    return QueueGeneration(**_queue_row_kwargs(data, extra_known=frozenset()))


def parse_queue_list(body: object) -> QueueList:
    """Parse ``GET /api/ai/queue``."""
    data = _object(body, "queue list")
    rows = data.get("generations")
    if not isinstance(rows, list):
        raise MalformedResponseError("queue list: 'generations' is not a list")
    generations = tuple(parse_queue_generation(row) for row in rows)
    count = data.get("count", len(generations))
    if not _is_int(count):
        raise MalformedResponseError("queue list: 'count' is not an integer")
    return QueueList(count=count, generations=generations)


def parse_generation_detail(body: object) -> GenerationDetail:
    """Parse ``GET /api/ai/generations/{id}`` (``{"generation": {...}}`` or the bare row)."""
    data = _object(body, "generation detail")
    row = _object(data["generation"], "generation") if "generation" in data else data
    return _generation_detail(row)


def parse_generation_page(body: object) -> GenerationPage:
    """Parse ``GET /api/ai/generations`` (contract 4.5); missing page fields default to one
    page holding every row."""
    data = _object(body, "generations list")
    rows = data.get("generations")
    if not isinstance(rows, list):
        raise MalformedResponseError("generations list: 'generations' is not a list")
    generations = tuple(_generation_detail(_object(row, "generation")) for row in rows)

    def number(key: str, default: int) -> int:
        value = data.get(key, default)
        if not _is_int(value):
            raise MalformedResponseError(f"generations list: '{key}' is not an integer")
        return value

    return GenerationPage(
        count=number("count", len(generations)),
        page_number=number("page_number", 1),
        page_size=number("page_size", max(1, len(generations))),
        total_pages=number("total_pages", 1),
        total_entries=number("total_entries", len(generations)),
        total_cost=parse_decimal(data.get("total_cost"), "total_cost"),
        generations=generations,
    )


def _generation_detail(row: JSONObject) -> GenerationDetail:
    return GenerationDetail(
        **_queue_row_kwargs(row, extra_known=_DETAIL_FIELDS),
        cost=parse_decimal(row.get("cost"), "cost"),
        user_id=_opt_str(row, "user_id"),
        username=_opt_str(row, "username"),
    )


def parse_cancel(body: object, generation_id: str) -> CancelResult:
    """Parse ``DELETE /api/ai/queue/{id}``."""
    data = _object(body, "cancel")
    return CancelResult(
        generation_id=_opt_str(data, "generation_id") or generation_id,
        status=_opt_str(data, "status") or "success",
    )


def parse_completion_event(body: object) -> CompletionEvent:
    """Parse the JSON ``data:`` of a ``media_generation_completed`` event."""
    data = _object(body, "completion event")
    status = _str(data, "status")
    if not _is_completion_status(status):
        raise MalformedResponseError(f"completion event: unexpected status {status!r}")
    return CompletionEvent(
        generation_id=_str(data, "generation_id"),
        status=status,
        media_type=_opt_str(data, "media_type") or "image",
        model=_opt_str(data, "model"),
        url=_opt_str(data, "url"),
        error=_opt_str(data, "error"),
    )


def parse_images(body: object) -> ImagesResponse:
    """Parse the sync image routes' ``{model, created, images: [...]}``."""
    data = _object(body, "images")
    items = data.get("images")
    if not isinstance(items, list):
        raise MalformedResponseError("images: 'images' is not a list")
    images = []
    for item in items:
        row = _object(item, "image")
        image = ImageResult(
            url=_opt_str(row, "url"),
            b64_json=_opt_str(row, "b64_json"),
            revised_prompt=_opt_str(row, "revised_prompt"),
        )
        if image.url is None and image.b64_json is None:
            raise MalformedResponseError("images: an item has neither 'url' nor 'b64_json'")
        images.append(image)
    return ImagesResponse(
        model=_opt_str(data, "model"),
        created=_opt_timestamp(data, "created"),
        images=tuple(images),
    )


def parse_model(body: object) -> Model:
    """Parse ``GET /api/ai/models/{id}``."""
    data = _object(body, "model")
    pricing = data.get("pricing")
    pricing_obj = pricing if isinstance(pricing, dict) else {}
    schema = data.get("request_schema")
    if not isinstance(schema, dict):
        schema = data.get("json_request_schema")
    return Model(
        id=_str(data, "id"),
        display_name=_opt_str(data, "display_name"),
        description=_opt_str(data, "description"),
        endpoint=_opt_str(data, "endpoint"),
        pricing=Pricing(
            method=_opt_str(pricing_obj, "method"),
            cost_per_image=parse_decimal(pricing_obj.get("cost_per_image"), "cost_per_image"),
            cost_per_image_grid=parse_price_grid(pricing_obj.get("cost_per_image_grid")),
        ),
        request_schema=schema if isinstance(schema, dict) else None,
        raw=data,
    )


def parse_commit(body: object) -> Commit | None:
    """The ``commit`` of a CommitResponse, or ``None`` when the server did not send one."""
    data = _object(body, "upload")
    commit = data.get("commit")
    if not isinstance(commit, dict) or not isinstance(commit.get("id"), str):
        return None
    return Commit(
        id=_str(commit, "id"),
        message=_opt_str(commit, "message"),
        timestamp=_opt_str(commit, "timestamp"),
    )


def parse_price_grid(value: object) -> dict[str, dict[str, Decimal]] | None:
    """``pricing.cost_per_image_grid``: quality → resolution tier → price. Optional and loosely
    specified, so anything that is not such a mapping of amounts is left out, never an error
    (the flat ``cost_per_image`` still prices the image)."""
    if not isinstance(value, dict):
        return None
    grid: dict[str, dict[str, Decimal]] = {}
    for quality, tiers in value.items():
        if not isinstance(quality, str) or not isinstance(tiers, dict):
            continue
        for tier, price in tiers.items():
            try:
                amount = parse_decimal(price, "cost_per_image_grid")
            except MalformedResponseError:
                continue
            if isinstance(tier, str) and amount is not None and amount >= 0:
                grid.setdefault(quality, {})[tier] = amount
    return grid or None


def parse_decimal(value: object, name: str) -> Decimal | None:
    """A money amount: decimal strings as sent by Oxen, numbers via ``str`` (no float noise)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MalformedResponseError(f"{name}: not a decimal: {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise MalformedResponseError(f"{name}: not a decimal: {value!r}") from None
    if not amount.is_finite():
        raise MalformedResponseError(f"{name}: not a finite decimal: {value!r}")
    return amount


# -- helpers -----------------------------------------------------------------------------------


def _queue_row_kwargs(data: JSONObject, *, extra_known: frozenset[str]) -> dict[str, Any]:
    media_type = _str(data, "media_type")
    if media_type not in ("image", "video"):
        raise MalformedResponseError(f"queue row: unexpected media_type {media_type!r}")
    enqueued_at = _opt_timestamp(data, "enqueued_at")
    if enqueued_at is None:
        raise MalformedResponseError("queue row: 'enqueued_at' is missing")
    known = _QUEUE_ROW_FIELDS | extra_known
    return {
        "generation_id": _str(data, "generation_id"),
        "model_name": _str(data, "model_name"),
        "media_type": media_type,
        "status": _status(data.get("status")),
        "enqueued_at": enqueued_at,
        "started_at": _opt_timestamp(data, "started_at"),
        "completed_at": _opt_timestamp(data, "completed_at"),
        "result_url": _opt_str(data, "result_url"),
        "error_message": _opt_str(data, "error_message"),
        "prompt": _opt_str(data, "prompt"),
        "target_namespace": _opt_str(data, "target_namespace"),
        "target_repo": _opt_str(data, "target_repo"),
        "target_directory": _opt_str(data, "target_directory"),
        "params": {k: v for k, v in data.items() if k not in known},
    }


def _object(value: object, what: str) -> JSONObject:
    if not isinstance(value, dict):
        raise MalformedResponseError(f"{what}: expected a JSON object")
    return value


def _status(value: object) -> GenerationStatus:
    if not _is_status(value):
        raise MalformedResponseError(f"unexpected generation status {value!r}")
    return value


def _is_status(value: object) -> TypeGuard[GenerationStatus]:
    return isinstance(value, str) and value in GENERATION_STATUSES


def _is_completion_status(value: str) -> TypeGuard[CompletionStatus]:
    return value in ("succeeded", "failed")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _str(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedResponseError(f"'{key}' is missing or not a string")
    return value


def _opt_str(data: Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponseError(f"'{key}' is not a string")
    return value


def _opt_timestamp(data: Mapping[str, object], key: str) -> datetime | None:
    """Unix seconds (the contract) or, tolerated, an ISO 8601 string."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise MalformedResponseError(f"'{key}' is not a timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise MalformedResponseError(f"'{key}' is not a timestamp")
