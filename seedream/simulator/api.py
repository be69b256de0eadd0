"""The Oxen routes: pure handlers from :class:`Request` to :class:`Response`."""

from __future__ import annotations

import base64
import math
import mimetypes
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any, Literal

from seedream.simulator import wire
from seedream.simulator.config import jittered
from seedream.simulator.multipart import MultipartError, parse_form_data
from seedream.simulator.params import model_params_problem, reference_urls
from seedream.simulator.references import LocalFile, ReferenceFetchError
from seedream.simulator.repos import RepoNotFoundError
from seedream.simulator.schemas import all_models, find_model, outputs_images
from seedream.simulator.state import ACTIVE_STATUSES, STATUSES, SimulatorState
from seedream.simulator.wire import Request, Response

Auth = Literal["required", "optional", "handler"]
Handler = Callable[[Request], Response]
NUM_GENERATIONS_ERROR = "num_generations must be an integer between 1 and 4"
FILE_ROUTE = "/api/repos/{namespace}/{repo}/file/{branch}/{path}"
OXEN_VERSION = "0.0.0-simulator"


@dataclass(frozen=True)
class Route:
    """One route: its counter key is ``"<METHOD> <template>"``."""

    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: Auth
    json_body: bool

    @property
    def key(self) -> str:
        """The route template key used by counters, faults and ``received``."""
        return f"{self.method} {self.template}"


def compile_template(template: str) -> re.Pattern[str]:
    """``{path}`` matches the rest of the path; any other ``{name}`` one segment."""
    pattern = re.escape(template)
    pattern = re.sub(r"\\\{path\\\}", r"(?P<path>.+)", pattern)
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile(f"^{pattern}$")


def _string_or_none(body: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name} must be a string"
    return None


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int | None:
    raw = request.query_value(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


# (method, template, handler name, auth, JSON body)
ROUTE_SPECS: tuple[tuple[str, str, str, Auth, bool], ...] = (
    ("POST", "/api/ai/images/edit", "images", "required", True),
    ("POST", "/api/ai/images/generate", "images", "required", True),
    ("POST", "/api/ai/queue", "queue_create", "required", True),
    ("GET", "/api/ai/queue", "queue_list", "required", False),
    ("GET", "/api/ai/queue/{id}", "queue_show", "required", False),
    ("DELETE", "/api/ai/queue/{id}", "queue_cancel", "required", False),
    ("GET", "/api/ai/generations", "generations_list", "required", False),
    ("GET", "/api/ai/generations/{id}", "generations_show", "required", False),
    ("GET", "/api/ai/models", "models_list", "optional", False),
    ("GET", "/api/ai/models/search", "models_search", "optional", False),
    ("GET", "/api/ai/models/{id}", "models_show", "optional", False),
    ("GET", "/api/events", "events", "required", False),
    ("POST", "/api/repos", "repos_create", "required", True),
    ("PUT", FILE_ROUTE, "file_put", "required", False),
    ("GET", FILE_ROUTE, "file_get", "handler", False),
)
ROUTE_KEYS: tuple[str, ...] = tuple(f"{method} {template}" for method, template, *_ in ROUTE_SPECS)


class OxenApi:
    """The hub's inference routes plus the repository file routes the app needs."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.routes: list[Route] = [
            Route(method, template, compile_template(template), getattr(self, name), auth, body)
            for method, template, name, auth, body in ROUTE_SPECS
        ]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route and its (percent-decoded) parameters for a request path."""
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found is not None:
                params = {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
                return route, params
        return None

    # --- sync image routes -------------------------------------------------------------------

    def images(self, request: Request) -> Response:
        """``POST /api/ai/images/edit`` and ``/generate``: validate, wait, answer images[]."""
        body = request.json
        if not isinstance(body, dict):
            return wire.invalid_params("Request body must be a JSON object")
        if body.get("model") is None:
            return wire.invalid_params("model is required")
        model = find_model(str(body["model"]), *self.state.schema)
        if model is None:
            return wire.model_not_found(body["model"])
        if not outputs_images(model):
            return wire.invalid_params(f"Model {model['id']} does not generate images")
        problem = model_params_problem(body) or _string_or_none(body, "target_namespace")
        if problem is not None:
            return wire.invalid_params(problem)
        response_format = body.get("response_format") or "url"
        if response_format not in ("url", "b64_json"):
            return wire.invalid_params("response_format must be one of: url, b64_json")
        try:
            references = self.state.fetcher.fetch_all(reference_urls(body))
        except ReferenceFetchError as exc:
            return wire.invalid_params(str(exc))
        username = str(request.username)
        generation_id = self.state.create_sync(username, {**body, "model": model["id"]}, references)
        generation = self.state.get(generation_id)
        assert generation is not None
        self.state.stopping.wait(
            jittered(
                self.state.config.sync_latency, self.state.config.seed, f"sync:{generation.seq}"
            )
        )
        self.state.complete_sync(generation_id)
        if response_format == "b64_json":
            image = {"b64_json": base64.b64encode(self.state.render(generation)).decode("ascii")}
        else:
            image = {"url": self.state.result_url(generation)}
        response = wire.json_response(
            200, {"model": model["id"], "created": int(time.time()), "images": [image]}
        )
        response.generation_ids.append(generation_id)
        return response

    # --- queue -------------------------------------------------------------------------------

    def queue_create(self, request: Request) -> Response:
        """``POST /api/ai/queue``: only the queue layer is validated here (contract 4.1)."""
        body = request.json
        if not isinstance(body, dict):
            return wire.invalid_params("Request body must be a JSON object")
        model = find_model(str(body.get("model")), *self.state.schema)
        if model is None:
            return wire.model_not_found(body.get("model"))
        if not outputs_images(model):
            # The shape seen in a production client's fixtures: a 200 that carries an error.
            return wire.json_response(
                200, {"generations": [], "error": {"detail": "unsupported_media_type"}}
            )
        count = body.get("num_generations")
        count = 1 if count is None else count
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 4:
            return wire.invalid_params(NUM_GENERATIONS_ERROR)
        problem = _string_or_none(body, "target_namespace", "target_repo", "target_directory")
        if problem is not None:
            return wire.invalid_params(problem)
        ids = self.state.enqueue(str(request.username), {**body, "model": model["id"]}, count)
        response = wire.json_response(
            200, {"generations": [{"generation_id": i, "status": "queued"} for i in ids]}
        )
        response.generation_ids.extend(ids)
        return response

    def _filters(self, request: Request) -> dict[str, str | None] | Response:
        filters = {
            name: request.query_value(name)
            for name in ("namespace", "model", "status", "media_type", "repo", "folder")
        }
        if filters["status"] is not None and filters["status"] not in STATUSES:
            return wire.invalid_params(f"status must be one of: {', '.join(STATUSES)}")
        if filters["media_type"] is not None and filters["media_type"] not in ("image", "video"):
            return wire.invalid_params("media_type must be one of: image, video")
        return filters

    def queue_list(self, request: Request) -> Response:
        """``GET /api/ai/queue``: active generations unless a status is asked for."""
        filters = self._filters(request)
        if isinstance(filters, Response):
            return filters
        generations = self.state.select(request.username, filters)
        if filters["status"] is None:
            generations = [g for g in generations if g.status in ACTIVE_STATUSES]
        generations.reverse()  # the queue reads oldest first
        views = [self.state.queue_view(g.generation_id) for g in generations]
        return wire.json_response(200, {"count": len(views), "generations": views})

    def queue_show(self, request: Request) -> Response:
        """``GET /api/ai/queue/{id}``: the QueueGenerationResponse."""
        generation = self.state.get(request.params["id"], request.username)
        if generation is None:
            return wire.not_found()
        return wire.json_response(200, self.state.queue_view(generation.generation_id))

    def queue_cancel(self, request: Request) -> Response:
        """``DELETE /api/ai/queue/{id}``: cancel; a terminal generation is left unchanged."""
        generation_id = request.params["id"]
        if not self.state.cancel(generation_id, str(request.username)):
            return wire.not_found()
        return wire.json_response(200, {"status": "success", "generation_id": generation_id})

    # --- history -----------------------------------------------------------------------------

    def generations_list(self, request: Request) -> Response:
        """``GET /api/ai/generations``: paginated history, newest first, with costs."""
        filters = self._filters(request)
        if isinstance(filters, Response):
            return filters
        page = _int_query(request, "page", 1, 1, 1_000_000)
        page_size = _int_query(request, "page_size", 50, 1, 1000)
        if page is None or page_size is None:
            return wire.invalid_params("page must be >= 1 and page_size between 1 and 1000")
        generations = self.state.select(request.username, filters)
        chosen = generations[(page - 1) * page_size : page * page_size]
        rows = [self.state.history_view(g.generation_id) for g in chosen]
        return wire.json_response(
            200,
            {
                "count": len(rows),
                "page_number": page,
                "page_size": page_size,
                "total_pages": max(1, math.ceil(len(generations) / page_size)),
                "total_entries": len(generations),
                "total_cost": self.state.total_cost(generations),
                "generations": rows,
            },
        )

    def generations_show(self, request: Request) -> Response:
        """``GET /api/ai/generations/{id}``."""
        generation = self.state.get(request.params["id"], request.username)
        if generation is None:
            return wire.not_found()
        row = self.state.history_view(generation.generation_id)
        return wire.json_response(
            200, {"status": "success", "status_message": "resource_found", "generation": row}
        )

    # --- models ------------------------------------------------------------------------------

    def models_list(self, request: Request) -> Response:
        """``GET /api/ai/models`` (``developer_name`` filter supported)."""
        models = all_models(*self.state.schema)
        developer = request.query_value("developer_name")
        if developer:
            models = [m for m in models if m["developer"]["name"].lower() == developer.lower()]
        return wire.json_response(200, {"object": "list", "data": models})

    def models_search(self, request: Request) -> Response:
        """``GET /api/ai/models/search?search=``: substring match on id and display name."""
        term = (request.query_value("search") or "").lower()
        models = [
            m
            for m in all_models(*self.state.schema)
            if term in m["id"].lower() or term in m["display_name"].lower()
        ]
        return wire.json_response(200, {"data": models})

    def models_show(self, request: Request) -> Response:
        """``GET /api/ai/models/{id}`` by name or UUID."""
        model = find_model(request.params["id"], *self.state.schema)
        if model is None:
            return wire.model_not_found(request.params["id"])
        return wire.json_response(200, model)

    # --- events ------------------------------------------------------------------------------

    def events(self, request: Request) -> Response:
        """``GET /api/events``: the server streams this subscriber until it ends."""
        subscriber = self.state.hub.subscribe(str(request.username))
        return wire.EventStream(200, content_type="text/event-stream", subscriber=subscriber)

    # --- repositories ------------------------------------------------------------------------

    def repos_create(self, request: Request) -> Response:
        """``POST /api/repos``: 200 with the repository, 409 if it exists."""
        body = request.json
        if not isinstance(body, dict):
            return wire.bad_request("Request body must be a JSON object")
        namespace = body.get("namespace") or request.username
        name = body.get("name")
        if not isinstance(name, str) or not name or not isinstance(namespace, str):
            return wire.bad_request("namespace and name are required")
        is_public = body.get("is_public", True)
        if not isinstance(is_public, bool):
            return wire.bad_request("is_public must be a boolean")
        user = body.get("user")
        user = user if isinstance(user, dict) else {}
        repo = self.state.repos.create(
            namespace,
            name,
            description=str(body.get("description") or ""),
            is_public=is_public,
            author=str(user.get("name") or request.username),
            email=str(user.get("email") or f"{request.username}@localhost"),
        )
        if repo is None:
            return wire.envelope(
                409, "resource_already_exists", "Repository already exists", f"{namespace}/{name}"
            )
        return wire.json_response(
            200,
            {
                "status": "success",
                "status_message": "resource_created",
                "repository": repo.describe(),
            },
        )

    def file_put(self, request: Request) -> Response:
        """``PUT .../file/{branch}/{path}``: multipart upload and commit (contract 9)."""
        try:
            parts = parse_form_data(request.headers.get("Content-Type", ""), request.body)
        except MultipartError as exc:
            return wire.bad_request(str(exc))
        fields = {p.name: p.data.decode("utf-8", "replace") for p in parts if p.filename is None}
        singles = [p for p in parts if p.name == "file"]
        many = [p for p in parts if p.name == "files[]"]
        if singles and many:
            return wire.bad_request("Ambiguous multipart payload")
        if not singles and not many:
            return wire.bad_request("No file provided: send a 'file' or 'files[]' part")
        path = request.params["path"].strip("/")
        if len(singles) == 1:
            files = {path: singles[0].data}
        else:
            if any(not p.filename for p in singles + many):
                return wire.bad_request("Every file part of a directory upload needs a filename")
            files = {f"{path}/{p.filename}".lstrip("/"): p.data for p in singles + many}
        username = str(request.username)
        try:
            commit = self.state.repos.commit(
                request.params["namespace"],
                request.params["repo"],
                request.params["branch"],
                files,
                message=fields.get("message") or f"Auto-commit files to {path}",
                author=fields.get("name") or username,
                email=fields.get("email") or f"{username}@localhost",
            )
        except RepoNotFoundError as exc:
            return wire.not_found(str(exc))
        return wire.json_response(
            200,
            {
                "status": "success",
                "status_message": "resource_created",
                "oxen_version": OXEN_VERSION,
                "commit": commit.describe(),
            },
        )

    def file_get(self, request: Request) -> Response:
        """``GET .../file/{branch-or-commit}/{path}``: repo files and signed result files."""
        params = request.params
        generation_id = self.state.generation_for_file(
            params["namespace"], params["repo"], params["branch"], params["path"]
        )
        if generation_id is not None:
            return self._result_file(request, generation_id)
        try:
            repo, data = self.state.repos.read(
                params["namespace"], params["repo"], params["branch"], params["path"]
            )
        except RepoNotFoundError as exc:
            return wire.not_found(str(exc))
        if not repo.is_public and request.username is None:
            return wire.unauthenticated()
        content_type = mimetypes.guess_type(params["path"])[0] or "application/octet-stream"
        return Response(200, data, content_type)

    def _result_file(self, request: Request, generation_id: str) -> Response:
        generation = self.state.get(generation_id)
        if generation is None:
            return wire.not_found()
        expires, signature = request.query_value("exp"), request.query_value("sig")
        if expires is not None or signature is not None:
            problem = self.state.signature_problem(request.raw_path, expires, signature)
            if problem is not None:
                return wire.forbidden(problem)
        elif request.username != generation.username:
            return wire.unauthenticated()
        if generation.status != "succeeded":
            return wire.not_found("The result of this generation is not available")
        if self.state.scenarios.redirect_results and self.state.mirror_base_url is not None:
            # The redirect_results scenario: the bytes live on another origin, like a CDN.
            location = self.state.mirror_url(generation)
            return Response(302, b"", "text/plain", {"Location": location})
        result = self.state.result_body(generation)
        return Response(200, result.body, result.content_type)

    def local_file(self, parts: urllib.parse.SplitResult, port: int) -> LocalFile | None:
        """Answer an anonymous GET of one of our own URLs in-process (used for references)."""
        if parts.port != port or parts.hostname not in _LOOPBACK_NAMES | {self.state.config.host}:
            return None
        found = self.match("GET", parts.path)
        if found is None or found[0].template != FILE_ROUTE:
            return LocalFile(404, b"")
        route, params = found
        request = Request(
            method="GET",
            route=route.key,
            raw_path=parts.path,
            params=params,
            query=urllib.parse.parse_qs(parts.query),
            headers=Message(),
            body=b"",
            username=None,
        )
        response = self.file_get(request)
        generation_id = self.state.generation_for_file(
            params["namespace"], params["repo"], params["branch"], params["path"]
        )
        generation = self.state.get(generation_id) if generation_id else None
        if response.status == 302 and generation is not None:
            # A redirected result (redirect_results): the mirror would serve these bytes.
            result = self.state.result_body(generation)
            response = Response(200, result.body, result.content_type)
        body = response.body
        if not isinstance(body, bytes):
            # A streamed (oversized) body: read just past the cap so the fetcher rejects it.
            limit = self.state.config.max_reference_bytes + 1
            collected = bytearray()
            for chunk in body:
                collected.extend(chunk)
                if len(collected) >= limit:
                    break
            body = bytes(collected)
        return LocalFile(response.status, body)


_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def upload_summary(request: Request) -> dict[str, Any]:
    """What ``received()`` keeps of a multipart upload: the text fields and file metadata."""
    try:
        parts = parse_form_data(request.headers.get("Content-Type", ""), request.body)
    except MultipartError as exc:
        return {"_invalid_multipart": str(exc)}
    fields: dict[str, Any] = {
        p.name: p.data.decode("utf-8", "replace") for p in parts if p.filename is None
    }
    fields["files"] = [
        {
            "field": p.name,
            "filename": p.filename,
            "content_type": p.content_type,
            "size": len(p.data),
        }
        for p in parts
        if p.filename is not None
    ]
    return fields
