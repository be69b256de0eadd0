"""Requests and responses as the route handlers see them, and the error envelopes (contract 7)."""

from __future__ import annotations

import http
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from seedream.simulator.events import Subscriber

_NO_JSON = object()


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    route: str
    raw_path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    username: str | None
    json: Any = _NO_JSON

    @property
    def has_json(self) -> bool:
        """Whether the body parsed as JSON."""
        return self.json is not _NO_JSON

    def query_value(self, name: str) -> str | None:
        """The last value of a query parameter, or None."""
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Response:
    """What a handler answers; ``body`` may be an iterator for large streamed bodies."""

    status: int
    body: bytes | Iterator[bytes] = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # Generations this request created, for the per-generation counters.
    generation_ids: list[str] = field(default_factory=list)
    # Run once the response is written (a control route that restarts the server).
    after_send: Callable[[], None] | None = None


@dataclass
class EventStream(Response):
    """An SSE response: the server streams the subscriber's queue until it ends."""

    subscriber: Subscriber | None = None


def parse_json(body: bytes) -> Any:
    """The JSON value of a body, or the module's "no JSON" marker."""
    try:
        return json.loads(body.decode("utf-8")) if body else _NO_JSON
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _NO_JSON


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, body, "application/json", dict(headers or {}))


def envelope(status: int, kind: str, title: str, detail: str | None = None) -> Response:
    """The hub's error envelope: ``{"error":{type,title[,detail]},"status":"error",...}``."""
    error: dict[str, str] = {"type": kind, "title": title}
    if detail is not None:
        error["detail"] = detail
    return json_response(status, {"error": error, "status": "error", "status_message": kind})


def unauthenticated() -> Response:
    """401 for a missing or wrong API key."""
    return envelope(401, "unauthenticated", "Invalid or missing API key")


def not_found(detail: str | None = None) -> Response:
    """404 in the ``resource_not_found`` envelope (contract 4.2)."""
    return envelope(404, "resource_not_found", "The requested resource could not be found", detail)


def invalid_params(detail: str) -> Response:
    """400 in the ``invalid_params`` envelope."""
    return envelope(
        400,
        "invalid_params",
        "Invalid parameters supplied, please check your request and try again.",
        detail,
    )


def bad_request(detail: str) -> Response:
    """400 as the repo server words it."""
    return envelope(400, "bad_request", "Bad Request", detail)


def forbidden(detail: str) -> Response:
    """403, e.g. for an expired or tampered signed URL."""
    return envelope(403, "forbidden", "Access to this resource is forbidden", detail)


def message_error(status: int, message: str) -> Response:
    """The short envelope: ``{"error":{"message": ...}}`` (model not found, rate limit)."""
    return json_response(status, {"error": {"message": message}})


def model_not_found(name: object) -> Response:
    """404 ``Model not found: <name>``."""
    return message_error(404, f"Model not found: {name}")


_STATUS_KINDS = {
    400: (
        "invalid_params",
        "Invalid parameters supplied, please check your request and try again.",
    ),
    401: ("unauthenticated", "Invalid or missing API key"),
    402: ("payment_required", "Insufficient credits"),
    403: ("forbidden", "Access to this resource is forbidden"),
    404: ("resource_not_found", "The requested resource could not be found"),
    409: ("conflict", "The resource already exists"),
    422: (
        "invalid_params",
        "Invalid parameters supplied, please check your request and try again.",
    ),
}

BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def injected_error(status: int, *, html: bool = False, retry_after: int | None = None) -> Response:
    """The body a real hub (or the proxy in front of it) answers with for ``status``."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if html:
        page = BAD_GATEWAY_HTML.replace(b"502 Bad Gateway", _status_line(status).encode())
        if status == 502:
            page = BAD_GATEWAY_HTML
        return Response(status, page, "text/html", headers)
    if status == 429:
        response = message_error(429, "Rate limit exceeded")
    elif status >= 500:
        response = envelope(status, "unknown_error", "An unknown error occurred")
    elif status in _STATUS_KINDS:
        kind, title = _STATUS_KINDS[status]
        response = envelope(status, kind, title)
    else:
        response = json_response(status, {"status": "success"} if status < 300 else {})
    response.headers.update(headers)
    return response


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"
