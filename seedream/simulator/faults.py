"""Injected HTTP faults, queued per route and consumed one request at a time."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

Malformed = Literal["invalid", "truncated"]
ANY_ROUTE = "*"


@dataclass
class Fault:
    """What to do to the next ``times`` requests of a route (``times=None``: until cleared).

    - ``delay``: wait this many seconds before handling the request;
    - ``drop``: handle the request (state changes happen), then close the connection without
      answering, which is what an ambiguous timeout looks like to a client;
    - ``status``/``body``: answer this instead of handling the request (no state change);
    - ``malformed``: handle the request, then answer a corrupted body with the real status.
    """

    route: str
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    malformed: Malformed | None = None
    drop: bool = False
    html: bool = False
    body: Any = None
    times: int | None = 1
    used: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 or None")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.malformed not in (None, "invalid", "truncated"):
            raise ValueError("malformed must be True, 'invalid' or 'truncated'")
        acts = (self.status is not None, self.body is not None, self.malformed, self.drop)
        if not any(acts) and self.delay == 0:
            raise ValueError("a fault needs status, body, delay, malformed or drop")

    @property
    def replaces_response(self) -> bool:
        """Whether the handler is skipped and a synthetic response sent instead."""
        return not self.drop and (self.status is not None or self.body is not None)

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly view for the control routes."""
        return {
            "route": self.route,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "malformed": self.malformed,
            "drop": self.drop,
            "html": self.html,
            "body": self.body,
            "times": self.times,
            "used": self.used,
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
    """Faults in injection order; a request takes the first one that matches its route."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Queue a fault behind those already injected for the same route."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def take(self, route: str) -> Fault | None:
        """Consume one use of the first fault for ``route`` (or ``*``), if any."""
        with self._lock:
            for fault in self._faults:
                if fault.route in (route, ANY_ROUTE):
                    fault.used += 1
                    if fault.times is not None and fault.used >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        """The faults still waiting, for inspection."""
        with self._lock:
            return [fault.describe() for fault in self._faults]
