"""The Oxen inference client: sync image calls, the async queue, costs, events, models,
repositories and result downloads (contract: ``shared/oxen-api.md``).

Retry rules, in one place (:meth:`OxenClient._call`):

* GET and DELETE are safe to repeat: transient failures and 429s are retried with capped,
  full-jitter backoff that honours ``Retry-After``.
* A POST that creates work (``/api/ai/queue``, ``/api/ai/images/*``) is never repeated once it
  may have reached the server. Only a failure to *connect* (nothing was sent) is retried. A
  timeout or a dropped connection after sending, a 5xx, or an unreadable 200 raises
  :class:`AmbiguousSubmitError`: the caller must reconcile before submitting again. A 429
  raises :class:`RateLimitedError` at once (the request was refused, so it is safe to
  resubmit later; the caller decides when).
* Every method takes ``retries=`` (``0`` surfaces the first error), and no single wait exceeds
  ``RetryPolicy.max_sleep``.

The API key is read from its :class:`~seedream.config.Secret` only to build the
``Authorization`` header of requests to the Oxen origin; it is scrubbed from any response text
quoted in an error.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any, Final
from urllib.parse import quote

import httpx

from seedream.config import ClientConfig
from seedream.download import Downloader, DownloadResult
from seedream.errors import (
    AmbiguousSubmitError,
    ConflictError,
    ConnectFailedError,
    InsufficientCreditsError,
    InvalidRequestError,
    MalformedResponseError,
    OxenError,
    TransientError,
    error_from_response,
    mentions_insufficient_credits,
    parse_error_body,
)
from seedream.events import EventStream
from seedream.pool import shared_http_client
from seedream.responses import (
    GENERATION_STATUSES,
    CancelResult,
    GenerationDetail,
    ImagesResponse,
    JSONObject,
    JSONValue,
    Model,
    QueuedGeneration,
    QueueGeneration,
    QueueList,
    UploadResult,
    parse_cancel,
    parse_commit,
    parse_generation_detail,
    parse_images,
    parse_model,
    parse_queue_generation,
    parse_queue_list,
    parse_queued,
)
from seedream.retry import Retrier, Sleep
from seedream.schema import RequestSchema, SchemaCache
from seedream.urlpolicy import Resolver, system_resolver

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SCRUBBED: Final = b"[redacted]"

# Shared by every client of the process (clients are cheap and often short-lived).
_schema_cache = SchemaCache()


class OxenClient:
    """A typed client for Oxen's hosted inference API.

    Cheap to construct: it borrows the process's pooled ``httpx.Client`` for its config
    unless one is injected (tests pass one built on ``httpx.MockTransport``).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        http: httpx.Client | None = None,
        download_http: httpx.Client | None = None,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.config = config
        self._http = http
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._retrier = Retrier(config.retry, sleep=sleep, rng=self._rng)
        self._clock = clock
        self._downloader = Downloader(config, http=download_http, resolver=resolver)

    def __repr__(self) -> str:
        return f"OxenClient(base_url={self.config.base_url!r})"

    @property
    def http(self) -> httpx.Client:
        """The ``httpx.Client`` in use (injected, else the process's pooled one)."""
        return self._http or shared_http_client(self.config)

    # -- sync images ---------------------------------------------------------------------------

    def images_edit(
        self,
        request: Mapping[str, JSONValue],
        *,
        schema: RequestSchema | None = None,
        validate: bool = True,
        retries: int | None = None,
    ) -> ImagesResponse:
        """``POST /api/ai/images/edit``: generate (optionally from references) and wait.

        Validated and shaped against the model's schema first (see :meth:`prepare_request`).
        """
        return self._images("/api/ai/images/edit", request, schema, validate, retries)

    def images_generate(
        self,
        request: Mapping[str, JSONValue],
        *,
        schema: RequestSchema | None = None,
        validate: bool = True,
        retries: int | None = None,
    ) -> ImagesResponse:
        """``POST /api/ai/images/generate``: text-to-image, blocking until done."""
        return self._images("/api/ai/images/generate", request, schema, validate, retries)

    def _images(
        self,
        path: str,
        request: Mapping[str, JSONValue],
        schema: RequestSchema | None,
        validate: bool,
        retries: int | None,
    ) -> ImagesResponse:
        body = self.prepare_request(request, schema=schema, validate=validate)
        data = self._call(
            "POST",
            path,
            json=body,
            idempotent=False,
            retries=retries,
            timeout=self.config.timeouts.to_httpx(read=self.config.sync_read_timeout),
        )
        return _parse_accepted(parse_images, data, path)

    # -- queue ---------------------------------------------------------------------------------

    def queue_submit(
        self,
        request: Mapping[str, JSONValue],
        *,
        num_generations: int = 1,
        target_namespace: str | None = None,
        target_repo: str | None = None,
        target_directory: str | None = None,
        schema: RequestSchema | None = None,
        validate: bool = True,
        retries: int | None = None,
    ) -> tuple[QueuedGeneration, ...]:
        """``POST /api/ai/queue``: enqueue ``num_generations`` (1-4) independent generations.

        Never repeated once it may have reached Oxen (see the module docstring). A 200 with no
        generations or with an ``error`` key raises (:class:`InvalidRequestError` or
        :class:`InsufficientCreditsError`).
        """
        full: JSONObject = {**request, "num_generations": num_generations}
        for key, value in (
            ("target_namespace", target_namespace),
            ("target_repo", target_repo),
            ("target_directory", target_directory),
        ):
            if value is not None:
                full[key] = value
        body = self.prepare_request(full, schema=schema, validate=validate)
        data = self._call("POST", "/api/ai/queue", json=body, idempotent=False, retries=retries)
        if isinstance(data, dict) and (data.get("error") or not data.get("generations")):
            raise _failure_in_ok_body(data, "queue submit")
        return _parse_accepted(parse_queued, data, "/api/ai/queue")

    def queue_get(self, generation_id: str, *, retries: int | None = None) -> QueueGeneration:
        """``GET /api/ai/queue/{id}``: a generation's status, result URL or error."""
        data = self._call("GET", f"/api/ai/queue/{_segment(generation_id)}", retries=retries)
        return parse_queue_generation(data)

    def queue_list(
        self,
        *,
        namespace: str | None = None,
        model: str | None = None,
        status: str | None = None,
        media_type: str | None = None,
        repo: str | None = None,
        folder: str | None = None,
        retries: int | None = None,
    ) -> QueueList:
        """``GET /api/ai/queue``: without ``status``, only queued and processing rows."""
        if status is not None and status not in GENERATION_STATUSES:
            raise ValueError(f"unknown status filter {status!r}")
        filters = {
            "namespace": namespace,
            "model": model,
            "status": status,
            "media_type": media_type,
            "repo": repo,
            "folder": folder,
        }
        params = {key: value for key, value in filters.items() if value is not None}
        return parse_queue_list(self._call("GET", "/api/ai/queue", params=params, retries=retries))

    def queue_cancel(self, generation_id: str, *, retries: int | None = None) -> CancelResult:
        """``DELETE /api/ai/queue/{id}``: cancel (a no-op on a finished generation)."""
        data = self._call("DELETE", f"/api/ai/queue/{_segment(generation_id)}", retries=retries)
        return parse_cancel(data, generation_id)

    def generation_get(self, generation_id: str, *, retries: int | None = None) -> GenerationDetail:
        """``GET /api/ai/generations/{id}``: the row with the charged ``cost``."""
        data = self._call("GET", f"/api/ai/generations/{_segment(generation_id)}", retries=retries)
        return parse_generation_detail(data)

    # -- events --------------------------------------------------------------------------------

    def events(self, *, stop: threading.Event | None = None) -> EventStream:
        """The ``/api/events`` consumer; iterate it (see :class:`~seedream.events.EventStream`)."""
        return EventStream(
            self.http,
            self._url("/api/events"),
            headers=self._headers,
            policy=self.config.events,
            timeouts=self.config.timeouts,
            stop=stop,
            rng=self._rng,
        )

    # -- models and schemas --------------------------------------------------------------------

    def model_get(self, model_id: str | None = None, *, retries: int | None = None) -> Model:
        """``GET /api/ai/models/{id}`` (default: the configured model)."""
        model_id = model_id or self.config.model
        return parse_model(
            self._call("GET", f"/api/ai/models/{_segment(model_id)}", retries=retries)
        )

    def request_schema(
        self, model_id: str | None = None, *, refresh: bool = False
    ) -> RequestSchema:
        """The model's request schema (with its price), cached for ``config.schema_ttl`` s."""
        key = (self.config.base_url, model_id or self.config.model)
        cached = None if refresh else _schema_cache.get(key)
        if cached is not None:
            return cached
        schema = RequestSchema.from_model(self.model_get(key[1]))
        _schema_cache.put(key, schema, self.config.schema_ttl)
        return schema

    def prepare_request(
        self,
        request: Mapping[str, JSONValue],
        *,
        schema: RequestSchema | None = None,
        validate: bool = True,
    ) -> JSONObject:
        """The body to send: ``model`` defaulted, then shaped and validated against the schema
        (fetched if not given). Raises :class:`SchemaValidationError` with every problem."""
        body: JSONObject = {"model": self.config.model, **request}
        if not validate:
            return body
        model = body["model"]
        schema = schema or self.request_schema(model if isinstance(model, str) else None)
        if not schema.properties:
            return body  # a model without a published schema: nothing to check against
        return schema.prepare(body)

    # -- repositories --------------------------------------------------------------------------

    def repo_create(
        self,
        namespace: str,
        name: str,
        *,
        description: str = "",
        is_public: bool = True,
        user_name: str = "Seedream Gallery",
        user_email: str = "gallery@localhost",
        retries: int | None = None,
    ) -> bool:
        """``POST /api/repos``; True if created, False if it already existed (409)."""
        body: JSONObject = {
            "namespace": _name(namespace),
            "name": _name(name),
            "description": description,
            "is_public": is_public,
            "user": {"name": user_name, "email": user_email},
        }
        try:
            # Safe to repeat: a second create answers 409, which means done.
            self._call("POST", "/api/repos", json=body, retries=retries)
        except ConflictError:
            return False
        return True

    def file_upload(
        self,
        namespace: str,
        repo: str,
        path: str,
        content: bytes,
        *,
        branch: str = "main",
        message: str | None = None,
        author_name: str = "Seedream Gallery",
        author_email: str = "gallery@localhost",
        content_type: str = "application/octet-stream",
        retries: int | None = None,
    ) -> UploadResult:
        """``PUT /api/repos/{ns}/{repo}/file/{branch}/{path}`` (multipart ``file``), committing
        the file; returns its public URL and, when Oxen reports the commit, a pinned URL."""
        route = f"{self._repo_prefix(namespace, repo)}/file/{_segment(branch)}/{_file_path(path)}"
        form = {
            "message": message or f"Add {path}",
            "name": author_name,
            "email": author_email,
        }
        filename = path.rsplit("/", 1)[-1]
        # Writing the same bytes to the same path again is harmless: retries are allowed
        # (the repo server answers 429 + Retry-After while its write lock is busy).
        data = self._call(
            "PUT",
            route,
            data=form,
            files={"file": (filename, content, content_type)},
            retries=retries,
        )
        commit = parse_commit(data)
        return UploadResult(
            commit=commit,
            url=self.file_url(namespace, repo, path, revision=branch),
            pinned_url=self.file_url(namespace, repo, path, revision=commit.id) if commit else None,
        )

    def file_url(self, namespace: str, repo: str, path: str, *, revision: str = "main") -> str:
        """``{base}/api/repos/{ns}/{repo}/file/{branch-or-commit}/{path}``."""
        return self._url(
            f"{self._repo_prefix(namespace, repo)}/file/{_segment(revision)}/{_file_path(path)}"
        )

    @staticmethod
    def _repo_prefix(namespace: str, repo: str) -> str:
        return f"/api/repos/{_name(namespace)}/{_name(repo)}"

    # -- downloads -----------------------------------------------------------------------------

    def download_result(self, url: str, dest: IO[bytes] | None = None) -> DownloadResult:
        """Fetch a result file safely (see ``seedream.download``)."""
        return self._downloader.fetch(url, dest)

    # -- transport -----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.config.base_url + path

    def _headers(self) -> dict[str, str]:
        """Headers of every request to the Oxen origin (and only to it: they hold the key)."""
        headers = {"User-Agent": self.config.user_agent}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key.reveal()}"
        return headers

    def _call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool = True,
        retries: int | None = None,
        **kwargs: Any,
    ) -> JSONValue:
        """Send one API request with the retry rules of the module docstring; return its JSON."""

        def should_retry(error: OxenError) -> bool:
            # Nothing reached the server when the connection never opened: always safe.
            return isinstance(error, ConnectFailedError) or (idempotent and error.retryable)

        return self._retrier.call(
            lambda: self._attempt(method, path, idempotent=idempotent, **kwargs),
            should_retry=should_retry,
            attempts=None if retries is None else retries + 1,
            what=f"{method} {path}",
        )

    def _attempt(self, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> JSONValue:
        what = f"{method} {path}"
        started = time.monotonic()
        try:
            response = self.http.request(method, self._url(path), headers=self._headers(), **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ConnectFailedError(f"{what}: could not connect ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            # The request may have reached the server: only say so for calls that create work.
            if idempotent:
                raise TransientError(f"{what}: {type(exc).__name__}") from None
            raise AmbiguousSubmitError(
                f"{what}: {type(exc).__name__} after the request was sent"
            ) from None
        logger.debug(
            "%s -> %d in %.0f ms", what, response.status_code, (time.monotonic() - started) * 1000
        )
        return self._decode(response, what=what, idempotent=idempotent)

    def _decode(self, response: httpx.Response, *, what: str, idempotent: bool) -> JSONValue:
        content = self._scrub(response.content)
        status = response.status_code
        if status >= 300:
            error = error_from_response(
                status, response.headers, content, context=what, now=self._clock()
            )
            if isinstance(error, InvalidRequestError):
                _schema_cache.forget()  # the schema may have changed under us: re-read it
            if not idempotent and isinstance(error, TransientError):
                raise AmbiguousSubmitError(
                    f"{error.message} (the request may have been accepted)",
                    status_code=status,
                    detail=error.detail,
                ) from None
            raise error
        try:
            data: JSONValue = json.loads(content)
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            if not idempotent:
                raise AmbiguousSubmitError(
                    f"{what}: HTTP {status} with an unreadable body ({kind})", status_code=status
                ) from None
            raise MalformedResponseError(
                f"{what}: HTTP {status} with a body that is not JSON ({kind})", status_code=status
            ) from None
        return data

    def _scrub(self, content: bytes) -> bytes:
        key = self.config.api_key.reveal().encode()
        return content.replace(key, _SCRUBBED) if key and key in content else content


def _parse_accepted[T](parse: Callable[[JSONValue], T], data: JSONValue, path: str) -> T:
    """Parse the answer of a POST that creates work. A 200 that does not parse may still mean
    the work was accepted, so it is ambiguous (reconcile), not transient (retry)."""
    try:
        return parse(data)
    except MalformedResponseError as error:
        raise AmbiguousSubmitError(
            f"POST {path}: accepted with an unexpected body ({error.message})", status_code=200
        ) from None


def _failure_in_ok_body(data: Mapping[str, JSONValue], what: str) -> OxenError:
    body = parse_error_body(data)
    text = body.text or "Oxen queued no generations"
    message = f"{what}: {text}"
    if mentions_insufficient_credits(text):
        return InsufficientCreditsError(message, status_code=200, detail=text)
    return InvalidRequestError(message, status_code=200, error_type=body.error_type, detail=text)


def _segment(value: str) -> str:
    """One URL path segment, quoted so an id can never add path components."""
    if not value:
        raise ValueError("empty path segment")
    return quote(value, safe="")


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"invalid Oxen namespace or repository name {value!r}")
    return value


def _file_path(path: str) -> str:
    parts = path.strip("/").split("/")
    if not path.strip("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"invalid repository file path {path!r}")
    return "/".join(quote(part, safe="") for part in parts)
