"""One error hierarchy for everything the Oxen client can raise.

Every error carries a ``user_message`` in plain words a gallery user can read and a
``retryable`` flag that says whether repeating the same call later may succeed. Messages are
built from Oxen's response body, never from the request: no header (and so no API key) ever
reaches an exception's text. ``seedream.client`` also scrubs the key from any body text it
quotes, in case a server echoes it back.

Oxen answers errors in two envelopes (contract section 7)::

    {"error": {"type": "invalid_params", "title": "...", "detail": "..."},
     "status": "error", "status_message": "invalid_params"}
    {"error": {"message": "Model not found: bad-model-name"}}

:func:`parse_error_body` reads both, and :func:`error_for_status` maps a status and body to
the right class (:func:`error_from_response` does both, plus ``Retry-After``).

What to do about an error is one property, :attr:`OxenError.category`, decided by its class:

============  ==============================================================================
category      meaning and what a caller does
============  ==============================================================================
``refused``   Oxen did no work: the connection never opened (:class:`ConnectFailedError`,
              ``nothing_sent``) or it answered 429 (:class:`RateLimitedError`). Send the same
              request again after ``retry_after`` (or a backoff): a *wait*, not an attempt.
``transient`` Something failed on the way (5xx, a read timeout or dropped connection on a
              safe call, an unreadable body, an expired result URL, a stalled download).
              Retry with backoff; it counts as an attempt.
``ambiguous`` A request that creates work may or may not have been accepted
              (:class:`AmbiguousSubmitError`). Never resend blindly: search for the job first.
``policy``    This client's own download rules refused a URL before fetching it
              (:class:`DownloadPolicyError`). Retrying the same URL with the same settings
              fails the same way; after the settings change (e.g. ``download_hosts``) it may
              succeed. The upstream result is unaffected: keep it.
``permanent`` Repeating the request cannot help (bad key, invalid request, not found, out of
              credits, a result that is not an image).
============  ==============================================================================
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Literal

# A detail quoted in a user message is cut here so a huge body cannot flood a page.
_DETAIL_LIMIT = 300
_CREDITS_PATTERN = re.compile(
    r"insufficient[_ ]+(credit|fund|balance)|out of credits|not enough credits|credit limit",
    re.IGNORECASE,
)


type ErrorCategory = Literal["refused", "transient", "ambiguous", "policy", "permanent"]


class OxenError(Exception):
    """Base class of every error raised by ``seedream``.

    ``category`` (see the module docstring) says what a caller should do; ``retryable`` is
    True for the ``refused`` and ``transient`` categories.
    """

    retryable: ClassVar[bool] = False
    category: ClassVar[ErrorCategory] = "permanent"
    default_user_message: ClassVar[str] = "Something went wrong while talking to Oxen."

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_type: str | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
        user_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_type = error_type
        self.detail = detail
        self.retry_after = retry_after
        self._user_message = user_message

    @property
    def user_message(self) -> str:
        """A sentence a gallery user can read; never contains secrets or request data."""
        return self._user_message or self.default_user_message

    @property
    def is_refusal(self) -> bool:
        """True when Oxen did no work for the request (category ``refused``: a 429 or a
        connection that never opened). Wait ``retry_after`` if given and send it again; this
        is never an "attempt", and repeating a ``POST`` cannot bill twice."""
        return self.category == "refused"

    @property
    def nothing_sent(self) -> bool:
        """True when no byte of the request left this process (a connection or DNS failure,
        a download-policy refusal, a request that failed validation)."""
        return False

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        status = f", status_code={self.status_code}" if self.status_code is not None else ""
        return f"{type(self).__name__}({self.message!r}{status})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive the default pickling (Celery results).
        return (_rebuild, (type(self), self.message, self._state()))

    def _state(self) -> dict[str, Any]:
        return {
            "status_code": self.status_code,
            "error_type": self.error_type,
            "detail": self.detail,
            "retry_after": self.retry_after,
            "user_message": self._user_message,
        }


def _rebuild(cls: type[OxenError], message: str, state: dict[str, Any]) -> OxenError:
    error = cls.__new__(cls)
    OxenError.__init__(error, message, **state)
    return error


class AuthenticationError(OxenError):
    """401: the API key is missing, wrong or revoked."""

    default_user_message = "Oxen did not accept the gallery's API key. Ask an admin to check it."


class PermissionDeniedError(AuthenticationError):
    """403 on an API route: the key is valid but not allowed to do this."""

    default_user_message = "Oxen refused this action for the gallery's account."


class NotFoundError(OxenError):
    """404: the generation, model or repository does not exist."""

    default_user_message = "Oxen could not find that item."


class InvalidRequestError(OxenError):
    """400/422 (and other 4xx): Oxen rejected the request; ``detail`` holds its reason."""

    @property
    def user_message(self) -> str:
        if self._user_message:
            return self._user_message
        if self.detail:
            return f"Oxen rejected the request: {_clip(self.detail)}"
        return "Oxen rejected the request."


class ConflictError(InvalidRequestError):
    """409: the resource already exists (e.g. creating a repository twice)."""


class InsufficientCreditsError(OxenError):
    """The account has run out of credits (detected from the message; no status is documented)."""

    default_user_message = (
        "The Oxen account has run out of credits. Ask an admin to top it up, then try again."
    )


class RateLimitedError(OxenError):
    """429: too many requests. ``retry_after`` (seconds) comes from the ``Retry-After`` header.

    A refusal: Oxen did nothing with the request, so sending it again is always safe."""

    retryable = True
    category: ClassVar[ErrorCategory] = "refused"
    default_user_message = "Oxen is busy right now. The gallery will try again shortly."


class TransientError(OxenError):
    """5xx, timeouts, connection errors, malformed or HTML bodies: worth trying again later."""

    retryable = True
    category: ClassVar[ErrorCategory] = "transient"
    default_user_message = "Oxen could not be reached just now. The gallery will try again."


class ConnectFailedError(TransientError):
    """The connection could not be opened (refused, connect timeout, DNS failure, no free
    pooled connection), so nothing reached the server: always safe to retry, a refusal."""

    category: ClassVar[ErrorCategory] = "refused"

    @property
    def nothing_sent(self) -> bool:
        """Always True: the request never left this process."""
        return True


class MalformedResponseError(TransientError):
    """The server answered with a body that is not the JSON the contract describes."""


class AmbiguousSubmitError(OxenError):
    """A job-creating POST may or may not have been accepted (timeout or drop after sending).

    Never retry blindly: reconcile first (look for the job with ``GET /api/ai/queue``), because
    a second POST could run and bill the generation twice.
    """

    category: ClassVar[ErrorCategory] = "ambiguous"
    default_user_message = (
        "We could not confirm that Oxen received the request. The gallery is checking before "
        "it tries again, so you are not charged twice."
    )


@dataclass(frozen=True)
class FieldProblem:
    """One validation problem: which field, which rule, and a message naming both."""

    field: str
    rule: str
    message: str


class SchemaValidationError(OxenError):
    """The request does not fit the model's request schema; ``problems`` lists every issue."""

    def __init__(self, problems: Sequence[FieldProblem], *, user_message: str | None = None):
        self.problems: tuple[FieldProblem, ...] = tuple(problems)
        super().__init__(
            "; ".join(p.message for p in self.problems) or "invalid request",
            error_type="schema_validation",
            user_message=user_message,
        )

    @property
    def field(self) -> str | None:
        """The field of the first problem (handy when there is just one)."""
        return self.problems[0].field if self.problems else None

    @property
    def rule(self) -> str | None:
        """The rule of the first problem."""
        return self.problems[0].rule if self.problems else None

    @property
    def user_message(self) -> str:
        if self._user_message:
            return self._user_message
        return "Please check these settings: " + "; ".join(p.message for p in self.problems)

    @property
    def nothing_sent(self) -> bool:
        """Always True: an invalid request is never sent."""
        return True

    def by_field(self) -> dict[str, list[str]]:
        """Messages grouped by field name, in order, for a form to show beside each field."""
        grouped: dict[str, list[str]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.field, []).append(problem.message)
        return grouped

    def __reduce__(self) -> tuple[Any, ...]:
        return (SchemaValidationError, (self.problems,), {"_user_message": self._user_message})


class DownloadError(OxenError):
    """Base class of errors while fetching a result file."""

    default_user_message = "The finished image could not be downloaded."


class UnsafeURLError(DownloadError):
    """The URL cannot be fetched safely: not a URL, credentials in it, too many redirects, or
    (the :class:`DownloadPolicyError` subclass) refused by the download policy."""

    default_user_message = "The image address Oxen returned is not one the gallery trusts."

    @property
    def nothing_sent(self) -> bool:
        """True: the URL was refused before a request was sent to it (earlier hops of a
        redirect chain may have been fetched)."""
        return True


class DownloadPolicyError(UnsafeURLError):
    """This client's download rules refused a URL before fetching it: a scheme other than
    https (http only to loopback with ``allow_loopback_http``), a host off the allow-list
    (``download_hosts``; redirect hops too when ``follow_public_redirects`` is off), or an
    address that is not public (private, loopback, link-local, ...).

    Category ``policy``: retrying with the same settings fails the same way, but the result
    is still upstream; retry after the settings change (or fetch a fresh URL later).
    """

    category: ClassVar[ErrorCategory] = "policy"
    default_user_message = (
        "The gallery's download settings do not allow the address Oxen gave for this image. "
        "An admin can allow it, then retry the download."
    )


class DownloadTooLargeError(DownloadError):
    """The body is larger than ``download_max_bytes``."""

    default_user_message = "The finished image is larger than the gallery accepts."


class DownloadTimeoutError(DownloadError):
    """The download did not finish within ``download_deadline`` seconds."""

    retryable = True
    category: ClassVar[ErrorCategory] = "transient"
    default_user_message = "Downloading the finished image took too long. It will be retried."


class BadContentError(DownloadError):
    """The bytes are not a complete JPEG, PNG or WebP file."""

    default_user_message = "Oxen returned something that is not a valid image."


class ResultExpiredError(DownloadError):
    """403/404/410 on a signed result URL: fetch a fresh URL (``queue_get``) and retry."""

    retryable = True
    category: ClassVar[ErrorCategory] = "transient"
    default_user_message = "The image link from Oxen had expired. The gallery will fetch a new one."


@dataclass(frozen=True)
class ErrorBody:
    """What :func:`parse_error_body` found in an error response."""

    error_type: str | None = None
    title: str | None = None
    detail: str | None = None

    @property
    def text(self) -> str | None:
        """The most specific human-readable text: detail, else title, else type."""
        return self.detail or self.title or self.error_type


def parse_error_body(body: bytes | str | Mapping[str, Any] | None) -> ErrorBody:
    """Read Oxen's error envelope (either format of contract section 7) from a body.

    Returns an empty :class:`ErrorBody` when the body is not JSON or has no ``error`` key.
    """
    data: Any = body
    if isinstance(body, (bytes, str)):
        try:
            data = json.loads(body)
        except ValueError:
            return ErrorBody()
    if not isinstance(data, Mapping):
        return ErrorBody()
    error = data.get("error")
    status_message = _as_text(data.get("status_message"))
    if isinstance(error, str):
        return ErrorBody(error_type=status_message, detail=error)
    if not isinstance(error, Mapping):
        return ErrorBody(error_type=status_message)
    return ErrorBody(
        error_type=_as_text(error.get("type")) or _as_text(error.get("code")) or status_message,
        title=_as_text(error.get("title")),
        detail=_as_text(error.get("detail")) or _as_text(error.get("message")),
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    Returns ``None`` when the header is absent or unreadable; never a negative number.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN check
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def error_from_response(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    context: str,
    now: float | None = None,
) -> OxenError:
    """The error for an unsuccessful response: its status, body envelope and Retry-After."""
    return error_for_status(
        status_code,
        parse_error_body(content),
        retry_after=parse_retry_after(headers.get("retry-after"), now=now),
        context=context,
    )


def mentions_insufficient_credits(text: str | None) -> bool:
    """True when an Oxen message says the account is out of credits."""
    return bool(text and _CREDITS_PATTERN.search(text))


def error_for_status(
    status_code: int,
    body: ErrorBody,
    *,
    retry_after: float | None = None,
    context: str = "",
) -> OxenError:
    """The error for an unsuccessful HTTP status, with Oxen's detail attached."""
    text = body.text
    where = f"{context}: " if context else ""
    message = f"{where}HTTP {status_code}" + (f": {text}" if text else "")
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "error_type": body.error_type,
        "detail": text,
        "retry_after": retry_after,
    }
    if status_code == 402 or (400 <= status_code < 500 and mentions_insufficient_credits(text)):
        return InsufficientCreditsError(message, **kwargs)
    cls: type[OxenError]
    if status_code == 401:
        cls = AuthenticationError
    elif status_code == 403:
        cls = PermissionDeniedError
    elif status_code == 404:
        cls = NotFoundError
    elif status_code == 409:
        cls = ConflictError
    elif status_code == 429:
        cls = RateLimitedError
    elif status_code >= 500:
        cls = TransientError
    else:
        cls = InvalidRequestError
    return cls(message, **kwargs)


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _clip(text: str) -> str:
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"
