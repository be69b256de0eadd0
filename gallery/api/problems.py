"""Errors as RFC 9457 problem details (``application/problem+json``), in one place.

Every refusal the API gives goes through :func:`problem_response`: an ``ApplicationError`` from
any service (its status from a ``status`` attribute when the class has one, else 422 when it
names fields, else 400), a request that fails validation (422, one entry per field with its
path, e.g. ``body.parameters.size``), a 404 from an ``access_*`` function, a missing or bad
token (401), and a full rate-limit window (429 with ``Retry-After``)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from gallery.errors import ApplicationError

PROBLEM_TYPE = (
    "https://seedream-gallery.invalid/problems/"  # relative names, documented in docs/api.md
)
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Server error",
    503: "Service unavailable",
}


class FieldProblem(Schema):
    field: str
    message: str


class Problem(Schema):
    """An RFC 9457 problem: ``errors`` lists the fields at fault (their paths in the request)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = []


# The error answers every operation may give, for its OpenAPI ``responses``.
ERRORS: dict[int, Any] = {
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    422: Problem,
    429: Problem,
}


def problem_media_types(document: Any) -> Any:
    """The OpenAPI document with every error answer (4xx, 5xx) under
    ``application/problem+json``, the type these answers are sent with."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for code, answer in operation.get("responses", {}).items():
                content = answer.get("content", {})
                if str(code)[0] in "45" and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
    return document


def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    title = TITLES.get(status, "Error")
    body = Problem(
        type=f"{PROBLEM_TYPE}{status}",
        title=title,
        status=status,
        detail=detail or title,
        errors=[FieldProblem(**error) for error in errors or []],
    )
    response = HttpResponse(
        body.model_dump_json(), status=status, content_type="application/problem+json"
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _field_path(location: Any) -> str:
    return ".".join(str(part) for part in location) if isinstance(location, list | tuple) else ""


def application_error_status(exc: ApplicationError) -> int:
    status = getattr(exc, "status", None)
    if isinstance(status, int) and 400 <= status < 600:
        return status
    return 422 if exc.field or getattr(exc, "by_field", None) else 400


def on_application_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    assert isinstance(exc, ApplicationError)
    errors: list[dict[str, str]] = []
    by_field = getattr(exc, "by_field", None)
    if isinstance(by_field, dict):
        for name, messages in by_field.items():
            path = "body" if name == "__all__" else f"body.{name}"
            errors += [{"field": path, "message": str(message)} for message in messages]
    elif exc.field:
        errors.append({"field": f"body.{exc.field}", "message": exc.message})
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return problem_response(
        application_error_status(exc), exc.message, errors=errors, headers=headers
    )


def on_validation_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    assert isinstance(exc, ValidationError)
    errors = [
        {"field": _field_path(error.get("loc")), "message": str(error.get("msg", "invalid"))}
        for error in exc.errors
    ]
    return problem_response(422, "The request has invalid fields.", errors=errors)


def on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem_response(404, str(exc) or "Not found.")


def on_authentication_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem_response(
        401,
        "Send a valid token: Authorization: Bearer sg_… (or sign in).",
        headers={"WWW-Authenticate": 'Bearer realm="api"'},
    )


def on_http_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    assert isinstance(exc, HttpError)
    return problem_response(exc.status_code, str(exc))


HANDLERS: list[tuple[type[Exception], Any]] = [
    (ApplicationError, on_application_error),
    (ValidationError, on_validation_error),
    (Http404, on_not_found),
    (AuthenticationError, on_authentication_error),
    (HttpError, on_http_error),
]
