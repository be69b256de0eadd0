"""Named fault scenarios: the upstream misbehaviour the pipeline must survive, one switch each.

Every field of :class:`Scenarios` is also a :class:`~seedream.simulator.config.SimulatorConfig`
field of the same name (the value at start and after ``reset``), a key of
``POST /_sim/scenarios`` (change it while running) and a ``python -m seedream.simulator`` flag.

- ``rate_limit_every`` (``--rate-limit-every N``): every Nth API request, on any route (queue,
  status, history, models, events, result downloads), answers 429 ``Rate limit exceeded``
  without doing anything; 0 = off.
- ``rate_limit_retry_after`` (``--rate-limit-retry-after S``): the ``Retry-After`` of those 429s.
- ``flaky_5xx_rate`` (``--flaky-5xx RATE``): a seeded fraction of API requests answers an HTML
  503 page *before* any work (a ``POST /api/ai/queue`` creates nothing); 0 = off.
- ``schema_route`` (``--schema-route MODE``): the model routes (``GET /api/ai/models...``) are
  ``up``, ``error`` (503), ``reset`` (connection closed without an answer) or ``blackhole``
  (accepted, never answered).
- ``redirect_results`` (``--redirect-results``): result files answer 302 to the second listener
  (another origin, like a CDN), which serves the bytes and records whether an
  ``Authorization`` header reached it (``Simulator.mirror_requests()``).
- ``sse_lifetime`` (``--sse-lifetime S``): every event stream is cut after S seconds; 0 = off.
- ``restart_every`` (``--restart-every S``): restart the HTTP server every S seconds, keeping
  every generation (they progress, finish and are billed while it is down); 0 = off.
- ``restart_downtime`` (``--restart-downtime S``): how long each restart keeps the port closed
  (connection refused); also the default of ``POST /_sim/restart``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from seedream.simulator.faults import ANY_ROUTE, Fault

SchemaRouteMode = Literal["up", "error", "reset", "blackhole"]
SCHEMA_ROUTE_MODES: tuple[str, ...] = get_args(SchemaRouteMode)
MODEL_ROUTES: tuple[str, ...] = (
    "GET /api/ai/models",
    "GET /api/ai/models/search",
    "GET /api/ai/models/{id}",
)


@dataclass(frozen=True)
class Scenarios:
    """The named scenarios in force; see the module docstring for each field."""

    rate_limit_every: int = 0
    rate_limit_retry_after: int = 2
    flaky_5xx_rate: float = 0.0
    schema_route: SchemaRouteMode = "up"
    redirect_results: bool = False
    sse_lifetime: float = 0.0
    restart_every: float = 0.0
    restart_downtime: float = 2.0

    def __post_init__(self) -> None:
        for name in ("rate_limit_every", "rate_limit_retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0")
        if not 0 <= self.flaky_5xx_rate <= 1:
            raise ValueError("flaky_5xx_rate must be between 0 and 1")
        if self.schema_route not in SCHEMA_ROUTE_MODES:
            raise ValueError(f"schema_route must be one of {SCHEMA_ROUTE_MODES}")
        if not isinstance(self.redirect_results, bool):
            raise ValueError("redirect_results must be true or false")
        for name in ("sse_lifetime", "restart_every", "restart_downtime"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The scenario field names (also config fields, control keys and CLI flags)."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_config(cls, config: object) -> Scenarios:
        """The scenarios a :class:`SimulatorConfig` starts with."""
        return cls(**{name: getattr(config, name) for name in cls.names()})

    def changed(self, changes: Mapping[str, Any]) -> Scenarios:
        """A copy with ``changes`` applied; unknown names are a ``ValueError``."""
        unknown = set(changes) - set(self.names())
        if unknown:
            raise ValueError(f"unknown scenarios: {sorted(unknown)}; use {list(self.names())}")
        return dataclasses.replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly view for the control routes."""
        return dataclasses.asdict(self)

    def standing_faults(self, seed: int) -> list[Fault]:
        """The faults these scenarios put on the routes, most specific first."""
        faults: list[Fault] = []
        if self.schema_route != "up":
            mode = self.schema_route
            for route in MODEL_ROUTES:
                faults.append(
                    Fault(
                        route=route,
                        status=503 if mode == "error" else None,
                        reset=mode == "reset",
                        blackhole=mode == "blackhole",
                        times=None,
                    )
                )
        if self.rate_limit_every:
            faults.append(
                Fault(
                    route=ANY_ROUTE,
                    status=429,
                    retry_after=self.rate_limit_retry_after,
                    every=self.rate_limit_every,
                    times=None,
                )
            )
        if self.flaky_5xx_rate:
            faults.append(
                Fault(
                    route=ANY_ROUTE,
                    status=503,
                    html=True,
                    rate=self.flaky_5xx_rate,
                    seed=seed,
                    times=None,
                )
            )
        return faults
