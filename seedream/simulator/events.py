"""The SSE fan-out behind ``GET /api/events``: user-scoped, no buffering, no replay."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

Control = Literal["drop", "close"]
# A stream's queue carries encoded event frames, or an instruction to end the stream.
Item = bytes | Control


def encode_event(event: str, data: dict[str, Any]) -> bytes:
    """One SSE frame: ``event:`` and a compact single-line ``data:`` (no ``id:`` lines)."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n".encode()


KEEPALIVE = b": keep-alive\n\n"


@dataclass(eq=False)
class Subscriber:
    """One open event stream."""

    username: str
    items: queue.Queue[Item] = field(default_factory=queue.Queue)


class EventHub:
    """Delivers events to the streams connected at that moment, and to nobody else."""

    def __init__(self, *, unrelated_events: bool) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[Subscriber] = set()
        self._silenced = False
        self._unrelated = unrelated_events

    @property
    def silenced(self) -> bool:
        """While silenced, streams stay open but receive nothing, not even keep-alives."""
        with self._lock:
            return self._silenced

    @property
    def unrelated_events(self) -> bool:
        """Whether unrelated event types are mixed into the stream."""
        with self._lock:
            return self._unrelated

    def set_unrelated_events(self, enabled: bool) -> None:
        """Turn the unrelated ``deployment_updated`` events on or off."""
        with self._lock:
            self._unrelated = enabled

    def subscribe(self, username: str) -> Subscriber:
        """Register a newly connected stream."""
        subscriber = Subscriber(username)
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a stream that ended."""
        with self._lock:
            self._subscribers.discard(subscriber)

    def connections(self, username: str | None = None) -> int:
        """How many streams are open (for one user, or in total)."""
        with self._lock:
            return sum(1 for s in self._subscribers if username in (None, s.username))

    def publish(
        self, username: str | None, event: str, data: dict[str, Any], *, media: bool = True
    ) -> int:
        """Send an event to ``username``'s open streams (None: everyone's); returns how many.

        Events published while silenced are lost, as on a half-open connection. With unrelated
        events on, each media event is preceded by a deployment event the client must skip.
        """
        frame = encode_event(event, data)
        with self._lock:
            if self._silenced:
                return 0
            targets = [s for s in self._subscribers if username in (None, s.username)]
            unrelated = self._unrelated and media
        for subscriber in targets:
            if unrelated:
                subscriber.items.put(unrelated_frame())
            subscriber.items.put(frame)
        return len(targets)

    def drop(self) -> int:
        """Cut every open stream now (the client sees the connection break)."""
        return self._end_all("drop")

    def close(self) -> int:
        """End every open stream because the simulator stops."""
        return self._end_all("close")

    def silence(self) -> None:
        """Keep streams open but send nothing until :meth:`resume`."""
        with self._lock:
            self._silenced = True

    def resume(self) -> None:
        """Undo :meth:`silence`."""
        with self._lock:
            self._silenced = False

    def _end_all(self, how: Control) -> int:
        with self._lock:
            subscribers = list(self._subscribers)
            self._subscribers.clear()
        for subscriber in subscribers:
            subscriber.items.put(how)
        return len(subscribers)


_unrelated_counter = iter(range(1, 1 << 62))
_unrelated_lock = threading.Lock()


def unrelated_frame() -> bytes:
    """A deployment event, which a client must skip because it is not a media event."""
    with _unrelated_lock:
        number = next(_unrelated_counter)
    return encode_event(
        "deployment_updated",
        {"deployment_id": f"sim-deployment-{number}", "status": "live", "model": "sim-chat"},
    )
