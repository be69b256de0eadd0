"""Generations, their lifecycle on the simulator's clock, signed result URLs and bookkeeping."""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import hmac
import math
import secrets
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol, get_args

from seedream.simulator import images
from seedream.simulator.clock import Scheduler
from seedream.simulator.config import SchemaEra, SchemaField, SimulatorConfig, jittered
from seedream.simulator.events import EventHub
from seedream.simulator.faults import Fault, FaultTable
from seedream.simulator.images import ReferenceThumb, RenderCache
from seedream.simulator.params import model_params_problem, reference_urls, size_of
from seedream.simulator.references import ReferenceFetcher, ReferenceFetchError
from seedream.simulator.repos import RepoStore
from seedream.simulator.scenarios import Scenarios
from seedream.simulator.schemas import COST_PER_IMAGE

OutcomeKind = Literal["succeed", "fail", "never", "truncated", "wrong_format", "bomb", "oversized"]
OUTCOME_KINDS: tuple[str, ...] = get_args(OutcomeKind)
Status = Literal["queued", "processing", "succeeded", "failed", "cancelled"]
STATUSES: tuple[str, ...] = get_args(Status)
ACTIVE_STATUSES = frozenset({"queued", "processing"})
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
# Fields the queue layer consumes; everything else in a request is echoed back (contract 4.2).
QUEUE_LAYER_FIELDS = frozenset(
    {"model", "num_generations", "target_namespace", "target_repo", "target_directory"}
)
SYNC_LAYER_FIELDS = frozenset({"model", "response_format", "target_namespace", "n"})
DEFAULT_FAIL_ERROR = "Generation failed"
COMPLETED_EVENT = "media_generation_completed"
# Failed and cancelled generations are not charged: their cost reads "0.00" (terminal and
# known), while queued/processing ones have no cost yet (null).
UNCHARGED_COST = "0.00"


@dataclass(frozen=True)
class Outcome:
    """How a generation ends: the default ``succeed``, a scripted failure, or a bad result."""

    kind: OutcomeKind = "succeed"
    error: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in OUTCOME_KINDS:
            raise ValueError(f"outcome must be one of {OUTCOME_KINDS}, got {self.kind!r}")


@dataclass
class Generation:
    """One generation as the hub keeps it."""

    generation_id: str
    seq: int
    username: str
    model_name: str
    request: dict[str, Any]
    target_namespace: str
    target_repo: str | None
    target_directory: str | None
    result_repo: str
    result_path: str
    source: Literal["queue", "sync"]
    outcome: Outcome
    status: Status = "queued"
    media_type: str = "image"
    enqueued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    completed_at: float | None = None
    error_message: str | None = None
    references: list[ReferenceThumb] | None = None

    @property
    def size(self) -> str:
        """The requested size preset."""
        return size_of(self.request)

    @property
    def prompt_text(self) -> str:
        """The prompt as drawn on the result image."""
        prompt = self.request.get("prompt")
        return prompt if isinstance(prompt, str) else ""


@dataclass(frozen=True)
class ResultBody:
    """The bytes served for a generation's result file."""

    content_type: str
    body: bytes | Iterator[bytes]
    length: int | None


def _timestamp(value: float | None) -> int | None:
    return None if value is None else int(value)


class Lifecycle(Protocol):
    """What the running :class:`~seedream.simulator.Simulator` lets the control routes do."""

    def restart_soon(self, downtime: float) -> None:
        """Stop serving HTTP, wait ``downtime`` seconds, serve again; state and clock kept."""

    def scenarios_changed(self) -> None:
        """React to new scenarios (start or stop periodic restarts)."""


MIRROR_PREFIX = "/results/"


class SimulatorState:
    """All mutable simulator state, guarded by one lock; safe to use from any thread."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.base_url = f"http://{config.host}:{config.port}"
        self.faults = FaultTable()
        self.hub = EventHub(unrelated_events=config.unrelated_events)
        self.repos = RepoStore()
        self.renders = RenderCache(config.image_cache_bytes)
        self.stopping = threading.Event()
        self._lock = threading.RLock()
        self._secret = secrets.token_bytes(32)
        self._users = config.users()
        self._schema_era: SchemaEra = config.schema_era
        self._schema_field: SchemaField = config.schema_field
        self._generations: dict[str, Generation] = {}
        self._results: dict[tuple[str, str, str], str] = {}
        self._created = 0
        self._outcomes: list[tuple[Outcome, int | None]] = []
        self._route_counts: Counter[str] = Counter()
        self._generation_counts: dict[str, Counter[str]] = {}
        self._received: dict[str, list[Any]] = {}
        self._scheduler: Scheduler | None = None
        self._fetcher: ReferenceFetcher | None = None
        self._scenarios = Scenarios.from_config(config)
        self.faults.set_standing(self._scenarios.standing_faults(config.seed))
        self._configured_faults: list[Fault] = []
        self._mirror_requests: list[dict[str, Any]] = []
        self.mirror_base_url: str | None = None
        self.lifecycle: Lifecycle | None = None

    # --- lifecycle of the state itself -------------------------------------------------------

    def attach(
        self,
        scheduler: Scheduler,
        fetcher: ReferenceFetcher,
        base_url: str,
        mirror_base_url: str | None = None,
    ) -> None:
        """Connect the clock and the reference fetcher once the servers are listening."""
        self._scheduler = scheduler
        self._fetcher = fetcher
        self.base_url = base_url
        self.mirror_base_url = mirror_base_url

    @property
    def scheduler(self) -> Scheduler:
        """The clock; only available while the simulator runs."""
        if self._scheduler is None:
            raise RuntimeError("the simulator is not running")
        return self._scheduler

    @property
    def fetcher(self) -> ReferenceFetcher:
        """The reference fetcher; only available while the simulator runs."""
        if self._fetcher is None:
            raise RuntimeError("the simulator is not running")
        return self._fetcher

    def reset(self, *, repos: bool = False) -> None:
        """Forget generations, counters, received bodies, faults and scripted outcomes.

        The schema era/field, SSE switches, scenarios and configured faults go back to the
        configured values. Repositories are kept unless ``repos`` is true, so an app that
        created its reference repo once keeps working across resets.
        """
        self.faults.clear()
        self.set_scenarios(Scenarios.from_config(self.config).describe())
        for template in self._configured_faults:
            self.faults.add(_fresh(template))
        with self._lock:
            self._generations.clear()
            self._results.clear()
            self._created = 0
            self._outcomes.clear()
            self._route_counts.clear()
            self._generation_counts.clear()
            self._received.clear()
            self._mirror_requests.clear()
            self._schema_era = self.config.schema_era
            self._schema_field = self.config.schema_field
        self.hub.resume()
        self.hub.set_unrelated_events(self.config.unrelated_events)
        self.renders.clear()
        if repos:
            self.repos.clear()

    # --- auth and schema ---------------------------------------------------------------------

    def username_for(self, authorization: str | None) -> str | None:
        """The user a ``Bearer`` header authenticates, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token.strip()
        for key, username in self._users.items():
            if hmac.compare_digest(token.encode(), key.encode()):
                return username
        return None

    @property
    def schema(self) -> tuple[SchemaEra, SchemaField]:
        """The schema era and field name the models routes currently publish."""
        with self._lock:
            return self._schema_era, self._schema_field

    def set_schema(
        self, era: SchemaEra | None = None, field_name: SchemaField | None = None
    ) -> None:
        """Switch the published schema era and/or the field it is emitted under."""
        if era is not None and era not in ("current", "legacy"):
            raise ValueError("era must be 'current' or 'legacy'")
        if field_name is not None and field_name not in (
            "request_schema",
            "json_request_schema",
            "both",
        ):
            raise ValueError("field must be request_schema, json_request_schema or both")
        with self._lock:
            if era is not None:
                self._schema_era = era
            if field_name is not None:
                self._schema_field = field_name

    # --- faults, scenarios and scripted outcomes ---------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Queue an HTTP fault for a route."""
        self.faults.add(fault)

    def configure_faults(self, templates: list[Fault]) -> None:
        """Faults injected now and again after every reset (``SimulatorConfig.faults``)."""
        self._configured_faults = list(templates)
        for template in templates:
            self.faults.add(_fresh(template))

    @property
    def scenarios(self) -> Scenarios:
        """The named scenarios in force."""
        with self._lock:
            return self._scenarios

    def set_scenarios(self, changes: Mapping[str, Any]) -> Scenarios:
        """Change some scenarios (``ValueError`` on an unknown name or a bad value)."""
        with self._lock:
            scenarios = self._scenarios.changed(changes)
            self._scenarios = scenarios
            self.faults.set_standing(scenarios.standing_faults(self.config.seed))
        if self.lifecycle is not None:
            self.lifecycle.scenarios_changed()
        return scenarios

    def script_outcomes(self, outcome: Outcome, times: int | None) -> None:
        """The next ``times`` queued generations (None: all of them) end with ``outcome``."""
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        with self._lock:
            self._outcomes.append((outcome, times))

    def clear_outcomes(self) -> None:
        """Every generation created from now on succeeds."""
        with self._lock:
            self._outcomes.clear()

    def _next_outcome(self) -> Outcome:
        if not self._outcomes:
            return Outcome()
        outcome, times = self._outcomes[0]
        if times is not None:
            if times <= 1:
                self._outcomes.pop(0)
            else:
                self._outcomes[0] = (outcome, times - 1)
        return outcome

    # --- counters ----------------------------------------------------------------------------

    def count(self, route: str, generation_ids: list[str] | tuple[str, ...] = ()) -> None:
        """Record one request to ``route``, attributed to any generations it concerns."""
        with self._lock:
            self._route_counts[route] += 1
            for generation_id in generation_ids:
                self._generation_counts.setdefault(generation_id, Counter())[route] += 1

    def attribute(self, route: str, generation_ids: list[str]) -> None:
        """Attribute an already counted request to generations it created."""
        with self._lock:
            for generation_id in generation_ids:
                self._generation_counts.setdefault(generation_id, Counter())[route] += 1

    def record_body(self, route: str, body: Any) -> None:
        """Keep a copy of a received JSON body (or a marker for an unreadable one)."""
        with self._lock:
            self._received.setdefault(route, []).append(copy.deepcopy(body))

    def counters(self) -> dict[str, int]:
        """Requests per route template."""
        with self._lock:
            return dict(self._route_counts)

    def generation_counters(self, generation_id: str) -> dict[str, int]:
        """Requests per route template that concerned one generation."""
        with self._lock:
            return dict(self._generation_counts.get(generation_id, {}))

    def all_generation_counters(self) -> dict[str, dict[str, int]]:
        """:meth:`generation_counters` for every generation seen."""
        with self._lock:
            return {key: dict(value) for key, value in self._generation_counts.items()}

    def received(self, route: str | None = None) -> Any:
        """Received JSON bodies for one route (a list), or all of them by route (a dict)."""
        with self._lock:
            if route is not None:
                return copy.deepcopy(self._received.get(route, []))
            return copy.deepcopy(self._received)

    @property
    def generations_created(self) -> int:
        """How many generations were created since start or the last reset."""
        with self._lock:
            return self._created

    # --- creating generations ----------------------------------------------------------------

    def _new_generation(
        self, username: str, body: dict[str, Any], source: Literal["queue", "sync"]
    ) -> Generation:
        target_namespace = body.get("target_namespace") or username
        target_repo = body.get("target_repo")
        target_directory = body.get("target_directory")
        generation_id = str(uuid.uuid4())
        result_repo = target_repo or self.config.results_repo
        directory = (target_directory or self.config.results_directory).strip("/")
        result_path = f"{directory}/{generation_id}.jpeg" if directory else f"{generation_id}.jpeg"
        self._created += 1
        generation = Generation(
            generation_id=generation_id,
            seq=self._created,
            username=username,
            model_name=str(body.get("model")),
            request=copy.deepcopy(body),
            target_namespace=str(target_namespace),
            target_repo=target_repo,
            target_directory=target_directory,
            result_repo=str(result_repo),
            result_path=result_path,
            source=source,
            outcome=self._next_outcome() if source == "queue" else Outcome(),
        )
        self._generations[generation_id] = generation
        self._results[(generation.target_namespace, generation.result_repo, result_path)] = (
            generation_id
        )
        return generation

    def enqueue(self, username: str, body: dict[str, Any], count: int) -> list[str]:
        """Create ``count`` independent queued generations and start their clocks."""
        with self._lock:
            created = [self._new_generation(username, body, "queue") for _ in range(count)]
        for generation in created:
            delay = jittered(self.config.queue_latency, self.config.seed, f"queue:{generation.seq}")
            self.scheduler.call_later(
                delay, functools.partial(self._start, generation.generation_id)
            )
        return [generation.generation_id for generation in created]

    def create_sync(
        self, username: str, body: dict[str, Any], references: list[ReferenceThumb]
    ) -> str:
        """Record a synchronous generation (processing until :meth:`complete_sync`)."""
        with self._lock:
            generation = self._new_generation(username, body, "sync")
            generation.status = "processing"
            generation.started_at = generation.enqueued_at
            generation.references = references
            return generation.generation_id

    def complete_sync(self, generation_id: str) -> None:
        """Mark a synchronous generation succeeded (sync calls emit no SSE event)."""
        self._complete(generation_id, "succeeded")

    # --- the lifecycle -----------------------------------------------------------------------

    def _start(self, generation_id: str) -> None:
        with self._lock:
            generation = self._generations.get(generation_id)
            if generation is None or generation.status != "queued":
                return
            generation.status = "processing"
            generation.started_at = time.time()
            outcome, request, seq, size = (
                generation.outcome,
                generation.request,
                generation.seq,
                generation.size,
            )
        if outcome.kind == "never":
            return
        if outcome.kind != "fail" and not self._prepare(generation_id, request):
            return
        delay = jittered(self.config.processing_latency, self.config.seed, f"processing:{seq}")
        if size == "4K":
            delay *= self.config.processing_latency_4k_factor
        self.scheduler.call_later(delay, lambda: self._finish_processing(generation_id))

    def _prepare(self, generation_id: str, request: dict[str, Any]) -> bool:
        """Validate the model parameters and fetch the references, as the model call would."""
        problem = model_params_problem(request)
        if problem is not None:
            message = f"Getting model response error: 422 - Value error, {problem}"
            self._complete(generation_id, "failed", message)
            return False
        try:
            references = self.fetcher.fetch_all(reference_urls(request))
        except ReferenceFetchError as exc:
            self._complete(generation_id, "failed", str(exc))
            return False
        with self._lock:
            generation = self._generations.get(generation_id)
            if generation is not None and generation.references is None:
                generation.references = references
        return True

    def _finish_processing(self, generation_id: str) -> None:
        with self._lock:
            generation = self._generations.get(generation_id)
            if generation is None or generation.status != "processing":
                return
            outcome = generation.outcome
        if outcome.kind == "fail":
            self._complete(generation_id, "failed", outcome.error or DEFAULT_FAIL_ERROR)
        else:
            self._complete(generation_id, "succeeded")

    def _complete(self, generation_id: str, status: Status, error: str | None = None) -> bool:
        with self._lock:
            generation = self._generations.get(generation_id)
            if generation is None or generation.status in TERMINAL_STATUSES:
                return False
            generation.status = status
            generation.completed_at = time.time()
            generation.error_message = error
            event = self._completion_event(generation) if generation.source == "queue" else None
            username = generation.username
        if event is not None:
            self.hub.publish(username, COMPLETED_EVENT, event)
        return True

    def _completion_event(self, generation: Generation) -> dict[str, Any] | None:
        if generation.status == "succeeded":
            return {
                "generation_id": generation.generation_id,
                "status": "succeeded",
                "media_type": generation.media_type,
                "model": generation.model_name,
                "url": self.result_url(generation),
            }
        if generation.status == "failed":
            return {
                "generation_id": generation.generation_id,
                "status": "failed",
                "media_type": generation.media_type,
                "error": generation.error_message,
            }
        return None  # cancelled: no event

    def cancel(self, generation_id: str, username: str) -> bool:
        """Cancel an active generation; a terminal one is left as is. False if unknown."""
        with self._lock:
            generation = self._generations.get(generation_id)
            if generation is None or generation.username != username:
                return False
            if generation.status in ACTIVE_STATUSES:
                generation.status = "cancelled"
                generation.completed_at = time.time()
            return True

    def finish(self, generation_id: str, outcome: Outcome) -> dict[str, Any]:
        """Force a generation to its outcome now; returns its queue view.

        References not fetched yet are fetched now; an unreachable one is drawn as a crossed
        box instead of failing, because the caller asked for this outcome explicitly.
        """
        with self._lock:
            generation = self._generations.get(generation_id)
            if generation is None:
                raise KeyError(generation_id)
            if generation.status not in TERMINAL_STATUSES:
                generation.outcome = outcome
                generation.status = "processing"
                generation.started_at = generation.started_at or time.time()
            needs_references = generation.references is None
            request = generation.request
        if outcome.kind == "never":
            return self.queue_view(generation_id) or {}
        if outcome.kind != "fail" and needs_references:
            references = self._references_or_placeholders(request)
            with self._lock:
                if generation.references is None:
                    generation.references = references
        if outcome.kind == "fail":
            self._complete(generation_id, "failed", outcome.error or DEFAULT_FAIL_ERROR)
        else:
            self._complete(generation_id, "succeeded")
        return self.queue_view(generation_id) or {}

    def _references_or_placeholders(self, request: dict[str, Any]) -> list[ReferenceThumb]:
        urls = reference_urls(request) if model_params_problem(request) is None else []
        thumbs = []
        for index, url in enumerate(urls, start=1):
            label = f"Image{index}"
            try:
                thumbs.append(self.fetcher.fetch(url, label))
            except ReferenceFetchError:
                thumbs.append(ReferenceThumb(label=label, digest=f"unavailable:{url}", jpeg=None))
        return thumbs

    # --- reading generations -----------------------------------------------------------------

    def get(self, generation_id: str, username: str | None = None) -> Generation | None:
        """A generation, if it exists (and belongs to ``username`` when given)."""
        with self._lock:
            generation = self._generations.get(generation_id)
        if generation is None or username not in (None, generation.username):
            return None
        return generation

    def queue_view(self, generation_id: str) -> dict[str, Any] | None:
        """The QueueGenerationResponse of a generation, with a freshly signed result URL."""
        with self._lock:
            generation = self._generations.get(generation_id)
            if generation is None:
                return None
            layer = QUEUE_LAYER_FIELDS if generation.source == "queue" else SYNC_LAYER_FIELDS
            view: dict[str, Any] = {
                "generation_id": generation.generation_id,
                "model_name": generation.model_name,
                "prompt": copy.deepcopy(generation.request.get("prompt")),
                "media_type": generation.media_type,
                "status": generation.status,
                "result_url": (
                    self.result_url(generation) if generation.status == "succeeded" else None
                ),
                "error_message": generation.error_message,
                "enqueued_at": _timestamp(generation.enqueued_at),
                "started_at": _timestamp(generation.started_at),
                "completed_at": _timestamp(generation.completed_at),
                "target_namespace": generation.target_namespace,
                "target_repo": generation.target_repo,
                "target_directory": generation.target_directory,
            }
            for key, value in generation.request.items():
                if key not in layer and key not in view:
                    view[key] = copy.deepcopy(value)
            return view

    def history_view(self, generation_id: str) -> dict[str, Any] | None:
        """The ``/api/ai/generations`` row: the queue view plus cost and user."""
        view = self.queue_view(generation_id)
        generation = self.get(generation_id)
        if view is None or generation is None:
            return None
        view.update(
            {
                "cost": self.cost_of(generation),
                "user_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"oxen-sim:{generation.username}")),
                "username": generation.username,
                "user_image": None,
            }
        )
        return view

    @staticmethod
    def cost_of(generation: Generation) -> str | None:
        """A decimal string: charged when succeeded, "0.00" when failed/cancelled, else null."""
        if generation.status == "succeeded":
            return COST_PER_IMAGE
        if generation.status in TERMINAL_STATUSES:
            return UNCHARGED_COST
        return None

    def select(self, username: str | None, filters: dict[str, str | None]) -> list[Generation]:
        """Generations matching the list filters of contract 4.3, newest first.

        ``filters`` keys: namespace, model, status, media_type, repo, folder. A ``status`` of
        None means every status (the caller applies "active only" where the route wants it).
        """
        fields = {
            "namespace": "target_namespace",
            "model": "model_name",
            "status": "status",
            "media_type": "media_type",
            "repo": "target_repo",
            "folder": "target_directory",
        }
        with self._lock:
            generations = list(self._generations.values())
        chosen = [
            generation
            for generation in generations
            if username in (None, generation.username)
            and all(
                value is None or getattr(generation, fields[key]) == value
                for key, value in filters.items()
            )
        ]
        chosen.sort(key=lambda generation: generation.seq, reverse=True)
        return chosen

    def snapshot(self) -> list[dict[str, Any]]:
        """Queue views of every generation, in creation order."""
        with self._lock:
            ids = sorted(self._generations, key=lambda key: self._generations[key].seq)
        return [view for view in (self.queue_view(key) for key in ids) if view is not None]

    @staticmethod
    def total_cost(generations: list[Generation]) -> str:
        """The sum of the charged costs, as a decimal string."""
        total = sum(
            (Decimal(cost) for g in generations if (cost := SimulatorState.cost_of(g))),
            Decimal("0.00"),
        )
        return f"{total:.2f}"

    # --- result files and signed URLs --------------------------------------------------------

    def result_path(self, generation: Generation) -> str:
        """The URL path of a generation's result file (percent-encoded)."""
        quote = urllib.parse.quote
        return (
            f"/api/repos/{quote(generation.target_namespace, safe='')}/"
            f"{quote(generation.result_repo, safe='')}/file/main/{quote(generation.result_path)}"
        )

    def _signature(self, path: str, expires: int) -> str:
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def result_url(self, generation: Generation) -> str:
        """A freshly signed URL for a result, valid for ``result_url_ttl`` seconds."""
        path = self.result_path(generation)
        expires = math.ceil(time.time() + self.config.result_url_ttl)
        query = urllib.parse.urlencode({"exp": expires, "sig": self._signature(path, expires)})
        return f"{self.base_url}{path}?{query}"

    def signature_problem(
        self, path: str, expires: str | None, signature: str | None
    ) -> str | None:
        """Why a signed URL is not acceptable, or None if it is."""
        if expires is None or signature is None:
            return "The URL is not signed"
        try:
            expires_at = int(expires)
        except ValueError:
            return "The URL signature is invalid"
        expected = self._signature(path, expires_at)
        if not hmac.compare_digest(expected, signature):
            return "The URL signature is invalid"
        if time.time() > expires_at:
            return "The signed URL has expired"
        return None

    def mirror_url(self, generation: Generation) -> str:
        """A signed URL for the result on the second listener (another origin)."""
        if self.mirror_base_url is None:
            raise RuntimeError("the mirror is not running")
        path = f"{MIRROR_PREFIX}{generation.generation_id}.jpeg"
        expires = math.ceil(time.time() + self.config.result_url_ttl)
        query = urllib.parse.urlencode({"exp": expires, "sig": self._signature(path, expires)})
        return f"{self.mirror_base_url}{path}?{query}"

    def record_mirror(self, path: str, authorization: str | None) -> None:
        """Remember a request to the mirror and whether it carried credentials."""
        with self._lock:
            self._mirror_requests.append(
                {
                    "path": path,
                    "authorization": authorization is not None,
                    "api_key": self.username_for(authorization) is not None,
                }
            )

    def mirror_requests(self) -> list[dict[str, Any]]:
        """Every request the mirror received: its path, whether any ``Authorization`` header
        came with it, and whether that header held a valid API key."""
        with self._lock:
            return copy.deepcopy(self._mirror_requests)

    def generation_for_file(self, namespace: str, repo: str, branch: str, path: str) -> str | None:
        """The generation whose result lives at this repo path, if any."""
        if branch != "main":
            return None
        with self._lock:
            return self._results.get((namespace, repo, path))

    def result_body(self, generation: Generation) -> ResultBody:
        """Render (or reuse) the result and shape it per the generation's outcome."""
        kind = generation.outcome.kind
        if kind == "wrong_format":
            return ResultBody("text/html; charset=utf-8", images.WRONG_FORMAT_BODY, None)
        if kind == "bomb":
            width, height = self.config.bomb_dimensions
            return ResultBody("image/png", images.decompression_bomb_png(width, height), None)
        jpeg = self.render(generation)
        if kind == "truncated":
            return ResultBody("image/jpeg", images.truncated(jpeg), None)
        if kind == "oversized":
            total = self.config.oversized_bytes
            return ResultBody("image/jpeg", images.oversized_stream(jpeg, total), None)
        return ResultBody("image/jpeg", jpeg, None)

    def render(self, generation: Generation) -> bytes:
        """The generation's JPEG, rendered on first use and cached by content."""
        watermark = generation.request.get("watermark") is True
        return self.renders.get_or_render(
            generation.prompt_text,
            generation.size,
            self.config.image_size,
            watermark,
            list(generation.references or []),
            variation=generation.generation_id,
        )


def _fresh(template: Fault) -> Fault:
    """A copy of a configured fault with its counters at zero."""
    return dataclasses.replace(template, used=0, offered=0)
