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
* The reads also take ``timeout=``: a total bound in seconds for the whole call, connecting,
  reading and retrying included, for callers that must answer quickly (a web request reading
  the model schema): ``client.request_schema(timeout=3.0)``.

Every error says what to do in ``error.category`` (``refused``, ``transient``, ``ambiguous``,
``policy``, ``permanent``; see ``seedream.errors``).

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
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime
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
    GenerationPage,
    GenerationStatus,
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
    parse_generation_page,
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

    def queue_get(
        self, generation_id: str, *, retries: int | None = None, timeout: float | None = None
    ) -> QueueGeneration:
        """``GET /api/ai/queue/{id}``: a generation's status, result URL or error."""
        data = self._call(
            "GET", f"/api/ai/queue/{_segment(generation_id)}", retries=retries, within=timeout
        )
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
        timeout: float | None = None,
    ) -> QueueList:
        """``GET /api/ai/queue``: without ``status``, only queued and processing rows.

        ``folder`` matches ``target_directory`` exactly; there is no pagination."""
        params = _list_filters(
            namespace=namespace,
            model=model,
            status=status,
            media_type=media_type,
            repo=repo,
            folder=folder,
        )
        data = self._call("GET", "/api/ai/queue", params=params, retries=retries, within=timeout)
        return parse_queue_list(data)

    def queue_cancel(self, generation_id: str, *, retries: int | None = None) -> CancelResult:
        """``DELETE /api/ai/queue/{id}``: cancel (a no-op on a finished generation)."""
        data = self._call("DELETE", f"/api/ai/queue/{_segment(generation_id)}", retries=retries)
        return parse_cancel(data, generation_id)

    def generation_get(
        self, generation_id: str, *, retries: int | None = None, timeout: float | None = None
    ) -> GenerationDetail:
        """``GET /api/ai/generations/{id}``: the row with the charged ``cost``."""
        path = f"/api/ai/generations/{_segment(generation_id)}"
        return parse_generation_detail(self._call("GET", path, retries=retries, within=timeout))

    # -- listings for reconciliation -------------------------------------------------------------

    def generations_list(
        self,
        *,
        page: int = 1,
        page_size: int = 100,
        namespace: str | None = None,
        model: str | None = None,
        status: GenerationStatus | None = None,
        media_type: str | None = None,
        repo: str | None = None,
        folder: str | None = None,
        retries: int | None = None,
        timeout: float | None = None,
    ) -> GenerationPage:
        """``GET /api/ai/generations``: one page of the history (every status, with costs).

        ``page`` counts from 1, ``page_size`` is 1-1000; the filters are those of
        :meth:`queue_list` (``folder`` matches ``target_directory`` exactly)."""
        if page < 1 or not 1 <= page_size <= 1000:
            raise ValueError("page must be >= 1 and page_size between 1 and 1000")
        params: dict[str, str | int] = {
            **_list_filters(
                namespace=namespace,
                model=model,
                status=status,
                media_type=media_type,
                repo=repo,
                folder=folder,
            ),
            "page": page,
            "page_size": page_size,
        }
        data = self._call(
            "GET", "/api/ai/generations", params=params, retries=retries, within=timeout
        )
        return parse_generation_page(data)

    def generations_iter(
        self,
        *,
        directory_prefix: str | None = None,
        since: datetime | None = None,
        page_size: int = 200,
        max_pages: int = 1000,
        namespace: str | None = None,
        model: str | None = None,
        status: GenerationStatus | None = None,
        repo: str | None = None,
        folder: str | None = None,
        retries: int | None = None,
    ) -> Iterator[GenerationDetail]:
        """Every upstream generation matching the filters, following ``/api/ai/generations``
        pages: each a :class:`GenerationDetail` with ``status``, ``result_url`` (fresh),
        ``error_message``, ``cost`` and ``target_directory``. For reconciliation.

        * ``directory_prefix`` keeps rows whose ``target_directory`` is that directory or
          below it (``"gallery/t1"`` matches ``gallery/t1`` and ``gallery/t1/g7``, not
          ``gallery/t10``); the contract has no prefix filter, so this is done here.
        * ``since`` keeps rows enqueued at or after it (timezone-aware). Pages are read until
          the last; when a page is newest first and ends before ``since``, reading stops
          there (older pages cannot match).
        * A row seen twice (new rows shift pages while reading) is yielded once.

        Transient errors and 429s are retried per call like every GET (``retries``); a page
        that still fails raises, so a caller never mistakes a partial listing for a full one.
        """
        seen: set[str] = set()
        for number in range(1, max_pages + 1):
            page = self.generations_list(
                page=number,
                page_size=page_size,
                namespace=namespace,
                model=model,
                status=status,
                media_type="image",
                repo=repo,
                folder=folder,
                retries=retries,
            )
            yield from _unseen_matches(page.generations, seen, directory_prefix, since)
            if not page.generations or number >= page.total_pages:
                return
            if since is not None and _newest_first_and_older(page.generations, since):
                return

    def queue_iter(
        self,
        *,
        statuses: Collection[GenerationStatus] | None = None,
        directory_prefix: str | None = None,
        since: datetime | None = None,
        namespace: str | None = None,
        model: str | None = None,
        repo: str | None = None,
        folder: str | None = None,
        retries: int | None = None,
    ) -> Iterator[QueueGeneration]:
        """Upstream queue rows for reconciliation, from ``GET /api/ai/queue`` (one call when
        ``statuses`` is None: the active ones, queued and processing; else one call per
        status). ``directory_prefix`` and ``since`` filter as in :meth:`generations_iter`."""
        wanted: list[GenerationStatus | None] = [None] if statuses is None else list(statuses)
        seen: set[str] = set()
        for status in wanted:
            listing = self.queue_list(
                namespace=namespace,
                model=model,
                status=status,
                media_type="image",
                repo=repo,
                folder=folder,
                retries=retries,
            )
            yield from _unseen_matches(listing.generations, seen, directory_prefix, since)

    # -- events --------------------------------------------------------------------------------

    def events(self, *, stop: threading.Event | None = None, liveness: bool = False) -> EventStream:
        """The ``/api/events`` consumer; iterate it (see :class:`~seedream.events.EventStream`).

        With ``liveness=True`` it also yields :class:`~seedream.events.KeepAlive` for every
        keep-alive and every event it does not act on, and
        :class:`~seedream.events.Disconnected` the moment a connection ends, so a listener can
        say "connected" exactly while the stream is up."""
        return EventStream(
            self.http,
            self._url("/api/events"),
            headers=self._headers,
            policy=self.config.events,
            timeouts=self.config.timeouts,
            stop=stop,
            rng=self._rng,
            liveness=liveness,
        )

    # -- models and schemas --------------------------------------------------------------------

    def model_get(
        self,
        model_id: str | None = None,
        *,
        retries: int | None = None,
        timeout: float | None = None,
    ) -> Model:
        """``GET /api/ai/models/{id}`` (default: the configured model)."""
        model_id = model_id or self.config.model
        path = f"/api/ai/models/{_segment(model_id)}"
        return parse_model(self._call("GET", path, retries=retries, within=timeout))

    def request_schema(
        self,
        model_id: str | None = None,
        *,
        refresh: bool = False,
        timeout: float | None = None,
    ) -> RequestSchema:
        """The model's request schema (with its price), cached for ``config.schema_ttl`` s.

        ``timeout`` bounds the whole read in seconds, connecting and retries included (e.g.
        ``timeout=3.0`` in a web request); past it the error is raised: a
        :class:`ConnectFailedError` (category ``refused``) when Oxen could not be reached, a
        :class:`TransientError` when it accepted the connection but did not answer in time.
        Failures are not cached here: a caller that must not wait again should keep its own
        last good schema (``RequestSchema(schema.raw, cost_per_image=...)`` rebuilds one).
        """
        key = (self.config.base_url, model_id or self.config.model)
        cached = None if refresh else _schema_cache.get(key)
        if cached is not None:
            return cached
        schema = RequestSchema.from_model(self.model_get(key[1], timeout=timeout))
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

    def warm(self) -> None:
        """Build the pooled HTTP clients now (each costs 30-50 ms of CPU, mostly its TLS
        context): a worker process calls it as it starts, not in its first task."""
        _ = self.http, self._downloader.http

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
        within: float | None = None,
        **kwargs: Any,
    ) -> JSONValue:
        """Send one API request with the retry rules of the module docstring; return its JSON.

        ``within`` (seconds) bounds the whole call, retries included (the public methods'
        ``timeout``); a ``timeout`` in ``kwargs`` is httpx's per-phase one."""

        def should_retry(error: OxenError) -> bool:
            # Nothing reached the server when the connection never opened: always safe.
            return isinstance(error, ConnectFailedError) or (idempotent and error.retryable)

        deadline = None if within is None else time.monotonic() + within
        return self._retrier.call(
            lambda: self._attempt(method, path, idempotent=idempotent, deadline=deadline, **kwargs),
            should_retry=should_retry,
            attempts=None if retries is None else retries + 1,
            what=f"{method} {path}",
            deadline=deadline,
        )

    def _attempt(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> JSONValue:
        what = f"{method} {path}"
        started = time.monotonic()
        try:
            if deadline is None:
                response = self.http.request(
                    method, self._url(path), headers=self._headers(), **kwargs
                )
                status, headers, content = response.status_code, response.headers, response.content
            else:
                status, headers, content = self._request_by(deadline, method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ConnectFailedError(f"{what}: could not connect ({type(exc).__name__})") from None
        except (httpx.TransportError, _DeadlinePassed) as exc:
            # The request may have reached the server: only say so for calls that create work.
            detail = str(exc) if isinstance(exc, _DeadlinePassed) else type(exc).__name__
            if idempotent:
                raise TransientError(f"{what}: {detail}") from None
            raise AmbiguousSubmitError(
                f"{what}: {type(exc).__name__} after the request was sent"
            ) from None
        logger.debug("%s -> %d in %.0f ms", what, status, (time.monotonic() - started) * 1000)
        return self._decode(status, headers, content, what=what, idempotent=idempotent)

    def _request_by(
        self, deadline: float, method: str, path: str, **kwargs: Any
    ) -> tuple[int, httpx.Headers, bytes]:
        """Send a request that must be answered, body and all, before ``deadline``.

        httpx's timeouts apply per phase and per read; here each is capped at the time left,
        and the body is read in chunks with the deadline checked between them, so neither a
        black hole nor a slow drip outlasts the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise httpx.ConnectTimeout("no time left to connect")
        configured = self.config.timeouts
        kwargs["timeout"] = httpx.Timeout(
            connect=min(configured.connect, left),
            read=min(configured.read, left),
            write=min(configured.write, left),
            pool=min(configured.pool, left),
        )
        with self.http.stream(method, self._url(path), headers=self._headers(), **kwargs) as resp:
            chunks = []
            for chunk in resp.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _DeadlinePassed("the answer did not arrive in time")
            return resp.status_code, resp.headers, b"".join(chunks)

    def _decode(
        self,
        status: int,
        headers: httpx.Headers,
        raw: bytes,
        *,
        what: str,
        idempotent: bool,
    ) -> JSONValue:
        content = self._scrub(raw)
        if status >= 300:
            error = error_from_response(status, headers, content, context=what, now=self._clock())
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
            kind = headers.get("content-type", "no content type")
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


class _DeadlinePassed(Exception):
    """A call's total ``timeout`` ran out while its answer was still arriving."""


def _list_filters(**filters: str | None) -> dict[str, str]:
    """The query of the listing routes (contract 4.3), without the unset filters."""
    status = filters.get("status")
    if status is not None and status not in GENERATION_STATUSES:
        raise ValueError(f"unknown status filter {status!r}")
    return {key: value for key, value in filters.items() if value is not None}


def _in_directory(directory: str | None, prefix: str) -> bool:
    """Whether ``directory`` is ``prefix`` or below it, compared by whole path segments."""
    if directory is None:
        return False
    directory, prefix = directory.strip("/"), prefix.strip("/")
    return not prefix or directory == prefix or directory.startswith(prefix + "/")


def _unseen_matches[Row: QueueGeneration](
    rows: tuple[Row, ...], seen: set[str], prefix: str | None, since: datetime | None
) -> Iterator[Row]:
    """The rows not in ``seen`` (then added to it) under ``prefix`` and not before ``since``."""
    for row in rows:
        if row.generation_id in seen:
            continue
        if prefix is not None and not _in_directory(row.target_directory, prefix):
            continue
        if since is not None and row.enqueued_at < since:
            continue
        seen.add(row.generation_id)
        yield row


def _newest_first_and_older(rows: tuple[QueueGeneration, ...], since: datetime) -> bool:
    """True when ``rows`` are ordered newest first and the last one predates ``since``."""
    times = [row.enqueued_at for row in rows]
    return times == sorted(times, reverse=True) and times[-1] < since


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
