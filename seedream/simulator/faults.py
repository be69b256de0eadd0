"""Injected HTTP faults, consumed one request at a time.

Two kinds live in one :class:`FaultTable`:

* **injected** faults (``Simulator.inject``, ``POST /_sim/faults``), in injection order, removed
  by ``DELETE /_sim/faults`` or once used up;
* **standing** faults that a named scenario installs (``rate_limit_every``, ``flaky_5xx_rate``,
  ``schema_route``; see ``seedream.simulator.scenarios``). They are replaced when the scenario
  changes and survive ``DELETE /_sim/faults``; ``reset`` puts back the configured ones.

A request is offered to the injected faults first, then to the standing ones; the first fault
that *fires* decides its fate. A fault with ``every=N`` fires on every Nth request it is offered,
one with ``rate=p`` on a seeded random fraction ``p`` of them, so a scripted run is repeatable.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Malformed = Literal["invalid", "truncated"]
ANY_ROUTE = "*"


@dataclass
class Fault:
    """What to do to matching requests of a route (``times=None``: until cleared).

    Actions (at least one, ``delay`` may be combined with any other):

    - ``delay``: wait this many seconds before handling the request;
    - ``status``/``body``: answer this instead of handling the request (no state change: a
      ``POST /api/ai/queue`` answered 503 creates nothing); ``html=True`` sends a proxy's HTML
      page, ``retry_after`` adds a ``Retry-After`` header;
    - ``drop``: handle the request (state changes happen), then close the connection without
      answering, which is what an ambiguous timeout looks like to a client;
    - ``reset``: close the connection without handling the request (nothing happens upstream,
      but the client cannot know that);
    - ``blackhole``: accept the request and never answer; the connection is closed only when
      the client gives up or the server stops (what a hung upstream looks like);
    - ``malformed``: handle the request, then answer a corrupted body with the real status.

    Selection: ``every=N`` fires on every Nth request offered to this fault (the 3rd, 6th, ...),
    ``rate=p`` on a fraction ``p`` of them (seeded by ``seed``); ``times`` counts firings.
    """

    route: str
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    malformed: Malformed | None = None
    drop: bool = False
    reset: bool = False
    blackhole: bool = False
    html: bool = False
    body: Any = None
    times: int | None = 1
    every: int | None = None
    rate: float | None = None
    seed: int = 0
    used: int = field(default=0, compare=False)
    offered: int = field(default=0, compare=False)
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 or None")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        if self.malformed not in (None, "invalid", "truncated"):
            raise ValueError("malformed must be True, 'invalid' or 'truncated'")
        if self.every is not None and self.every < 1:
            raise ValueError("every must be >= 1")
        if self.rate is not None and not 0 < self.rate <= 1:
            raise ValueError("rate must be in (0, 1]")
        closing = [name for name in ("drop", "reset", "blackhole") if getattr(self, name)]
        if len(closing) > 1:
            raise ValueError(f"choose one of drop, reset and blackhole, not {closing}")
        acts = (self.status is not None, self.body is not None, self.malformed, *closing)
        if not any(acts) and self.delay == 0:
            raise ValueError(
                "a fault needs status, body, delay, malformed, drop, reset or blackhole"
            )
        self._rng = random.Random(f"{self.seed}:{self.route}")  # noqa: S311 - test double

    @property
    def replaces_response(self) -> bool:
        """Whether the handler is skipped and a synthetic response sent instead."""
        if self.drop or self.reset or self.blackhole:
            return False
        return self.status is not None or self.body is not None

    @property
    def skips_handler(self) -> bool:
        """Whether the request never reaches the route's handler (no state change)."""
        return self.replaces_response or self.reset or self.blackhole

    def offer(self) -> bool:
        """Count one matching request; True when the fault fires on it (call under a lock)."""
        self.offered += 1
        if self.every is not None and self.offered % self.every:
            return False
        return self.rate is None or self._rng.random() < self.rate

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly view for the control routes."""
        return {
            "route": self.route,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "malformed": self.malformed,
            "drop": self.drop,
            "reset": self.reset,
            "blackhole": self.blackhole,
            "html": self.html,
            "body": self.body,
            "times": self.times,
            "every": self.every,
            "rate": self.rate,
            "used": self.used,
            "offered": self.offered,
        }


def normalise_malformed(value: bool | str | None) -> Malformed | None:
    """``True`` means invalid JSON; ``"truncated"`` cuts the real body in half."""
    if value is None or value is False:
        return None
    if value is True or value == "invalid":
        return "invalid"
    if value == "truncated":
        return "truncated"
    raise ValueError("malformed must be True, 'invalid' or 'truncated'")


class FaultTable:
    """Injected faults in injection order, then the standing faults of the scenarios."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._standing: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Queue a fault behind those already injected for the same route."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Remove every injected fault (standing faults belong to the scenarios)."""
        with self._lock:
            self._faults.clear()

    def set_standing(self, faults: Iterable[Fault]) -> None:
        """Replace the standing faults (called when the scenarios change)."""
        with self._lock:
            self._standing = list(faults)

    def take(self, route: str) -> Fault | None:
        """The first fault for ``route`` (or ``*``) that fires on this request, if any."""
        with self._lock:
            for faults in (self._faults, self._standing):
                for fault in faults:
                    if fault.route not in (route, ANY_ROUTE) or not fault.offer():
                        continue
                    fault.used += 1
                    if fault.times is not None and fault.used >= fault.times:
                        faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        """The injected faults still waiting, for inspection."""
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def standing(self) -> list[dict[str, Any]]:
        """The scenarios' standing faults, for inspection."""
        with self._lock:
            return [fault.describe() for fault in self._standing]
