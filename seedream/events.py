"""A consumer of Oxen's ``GET /api/events`` Server-Sent Events stream.

Facts it is built on (contract section 5): a ``: keep-alive`` comment every 15 s when idle,
one ``media_generation_completed`` event per generation that succeeds or fails, possibly other
event types, and **no replay**: whatever fired while nobody was connected is lost. So:

* iterating an :class:`EventStream` yields a :class:`Connected` marker every time it
  (re)connects; a caller reconciles then (``queue_list``/``queue_get``), because events may
  have been missed before it;
* a connection that sends nothing, not even keep-alives, for ``read_timeout`` seconds (45 s by
  default, three missed keep-alives) counts as dead and is replaced;
* reconnects wait with capped, full-jitter exponential backoff (1 s doubling to 30 s by
  default), reset after a connection that delivered data, so a flapping server is never
  hammered;
* 401/403/404 are raised (a wrong key does not heal by retrying); other failures reconnect.

Liveness (``liveness=True``, i.e. ``client.events(liveness=True)``): the stream itself says
whether it is up, so a listener's "connected" heartbeat can be written from it and stop the
moment it ends, letting polling take over within seconds:

* :class:`KeepAlive` for every ``: keep-alive`` comment and every event this consumer does not
  act on (other types, a malformed completion), i.e. proof the connection delivers;
* :class:`Disconnected` as soon as a connection that yielded :class:`Connected` ends (the
  server closed it, it broke, or it fell silent for ``read_timeout``), before the reconnect
  backoff; a failed connection attempt yields nothing (there was no :class:`Connected`).

Without it only :class:`Connected` and :class:`CompletionEvent` are yielded, as before.

Stopping: set the ``stop`` event (from any thread, e.g. a signal handler) or call
:meth:`EventStream.close`. A watcher thread shuts the live socket down within ``stop_poll``
seconds of ``stop`` being set, so a blocked read ends promptly; backoff waits end at once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

import httpx
from httpx_sse import SSEError

# The public EventSource drops comment lines, and ": keep-alive" comments are the liveness
# signal; these are the decoders it uses itself (httpx-sse is pinned below 0.5).
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from seedream.config import EventStreamPolicy, Timeouts
from seedream.errors import (
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    OxenError,
    TransientError,
    error_from_response,
)
from seedream.responses import CompletionEvent, parse_completion_event
from seedream.retry import backoff_delay

logger = logging.getLogger(__name__)

COMPLETION_EVENT = "media_generation_completed"


@dataclass(frozen=True)
class Connected:
    """Yielded on every successful (re)connect: reconcile, events may have been missed."""

    connection: int  # 1 for the first connection of this stream
    reconnect: bool  # True from the second connection on


@dataclass(frozen=True)
class KeepAlive:
    """The connection delivers: a keep-alive comment, or an event this consumer skips.

    Only yielded with ``liveness=True``; a listener refreshes its heartbeat on it."""

    connection: int


@dataclass(frozen=True)
class Disconnected:
    """The connection that yielded ``Connected(connection=...)`` has ended; a reconnect
    follows after a backoff. Only yielded with ``liveness=True``: stop saying "connected"."""

    connection: int
    reason: str  # "closed by the server", "silent for 45s", "dropped (ReadError)"


type StreamItem = CompletionEvent | Connected | KeepAlive | Disconnected


class EventStream:
    """Iterate to receive :class:`Connected` markers and :class:`CompletionEvent` objects
    (plus :class:`KeepAlive` and :class:`Disconnected` with ``liveness=True``).

    The iterator ends only when stopped; fatal errors (bad key, missing route) are raised.
    ``connected`` and ``last_activity`` describe the current connection at any moment.
    """

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        *,
        headers: Callable[[], dict[str, str]],
        policy: EventStreamPolicy,
        timeouts: Timeouts,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
        stop_poll: float = 0.5,
        liveness: bool = False,
    ) -> None:
        self._http = http
        self._url = url
        self._headers = headers
        self._policy = policy
        self._timeouts = timeouts
        self.stop = stop or threading.Event()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._stop_poll = stop_poll
        self._response: httpx.Response | None = None
        self._response_lock = threading.Lock()
        self._liveness = liveness
        self.connections = 0
        self.failures = 0  # consecutive failed connections, drives the backoff
        self.connected = False  # a connection is open and has passed its checks
        self.last_activity: float | None = None  # time.monotonic() of the last line received

    def close(self) -> None:
        """Stop the stream from any thread; a blocked read ends at once."""
        self.stop.set()
        self._close_response()

    def __iter__(self) -> Iterator[StreamItem]:
        finished = threading.Event()
        watcher = threading.Thread(
            target=self._close_when_stopped, args=(finished,), daemon=True, name="sse-stop"
        )
        watcher.start()
        try:
            while not self.stop.is_set():
                retry_after = yield from self._one_connection()
                if self.stop.is_set():
                    return
                self._wait_before_reconnect(retry_after)
        finally:
            finished.set()
            self._close_response()

    def _one_connection(self) -> Generator[StreamItem, None, float | None]:
        """Run one connection to its end; return a server-requested delay, if any."""
        live: httpx.Response | None = None
        reason = "closed by the server"
        opened = False
        try:
            with self._http.stream(
                "GET",
                self._url,
                headers={
                    **self._headers(),
                    "Accept": "text/event-stream",
                    "Cache-Control": "no-store",
                },
                timeout=self._timeouts.to_httpx(read=self._policy.read_timeout),
            ) as response:
                live = response
                with self._response_lock:
                    self._response = response
                self._check_response(response)
                self.connections += 1
                self.connected = opened = True
                self.last_activity = time.monotonic()
                logger.info("event stream connected (connection %d)", self.connections)
                yield Connected(connection=self.connections, reconnect=self.connections > 1)
                for item in self._items(response):
                    if self.stop.is_set():
                        return None
                    if self._liveness or not isinstance(item, KeepAlive):
                        yield item
                logger.info("event stream closed by the server; reconnecting")
        except (AuthenticationError, NotFoundError):
            raise
        except OxenError as error:
            if not self.stop.is_set():
                logger.warning("event stream failed: %s", error)
            self.failures += 1
            return error.retry_after
        except httpx.ReadTimeout:
            reason = f"silent for {self._policy.read_timeout:g}s"
            if not self.stop.is_set():
                logger.warning("event stream %s; reconnecting", reason)
        except (httpx.HTTPError, SSEError, OSError, RuntimeError) as exc:
            reason = f"dropped ({type(exc).__name__})"
            if not self.stop.is_set():
                logger.warning("event stream dropped (%s); reconnecting", type(exc).__name__)
        finally:
            self.connected = False
            with self._response_lock:
                self._response = None
        # A connection that delivered anything (events or keep-alives) was healthy: start the
        # backoff over. One that died silent makes the next wait longer.
        healthy = live is not None and live.num_bytes_downloaded > 0
        self.failures = 0 if healthy else self.failures + 1
        if opened and self._liveness and not self.stop.is_set():
            yield Disconnected(connection=self.connections, reason=reason)
        return None

    def _items(self, response: httpx.Response) -> Iterator[CompletionEvent | KeepAlive]:
        """Completion events, and a :class:`KeepAlive` for every comment or skipped event."""
        lines = SSELineDecoder()
        decoder = SSEDecoder()
        for text in itertools.chain(response.iter_text(), [None]):  # None: flush at the end
            self.last_activity = time.monotonic()
            for line in lines.flush() if text is None else lines.decode(text):
                if line.startswith(":"):
                    yield KeepAlive(connection=self.connections)
                    continue
                sse = decoder.decode(line.rstrip("\n"))
                if sse is not None:
                    event = self._completion(sse.event, sse.data)
                    yield event or KeepAlive(connection=self.connections)

    def _check_response(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            response.read()
            raise error_from_response(
                response.status_code, response.headers, response.content, context="events"
            )
        content_type = response.headers.get("content-type", "")
        if "text/event-stream" not in content_type:
            raise TransientError(f"events: unexpected content type {content_type!r}")

    def _completion(self, event_type: str, data: str) -> CompletionEvent | None:
        if event_type != COMPLETION_EVENT:
            return None  # other event types (deployments, ...) are not ours
        try:
            return parse_completion_event(json.loads(data))
        except (ValueError, MalformedResponseError) as exc:
            logger.warning("skipped a malformed %s event: %s", COMPLETION_EVENT, exc)
            return None

    def _wait_before_reconnect(self, retry_after: float | None) -> None:
        delay = backoff_delay(
            max(0, self.failures - 1),
            base=self._policy.backoff_base,
            cap=self._policy.backoff_max,
            rng=self._rng,
        )
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._policy.backoff_max))
        logger.debug("event stream reconnecting in %.2fs", delay)
        self.stop.wait(delay)

    def _close_when_stopped(self, finished: threading.Event) -> None:
        # A blocked read only notices `stop` when the connection is closed under it.
        while not finished.is_set():
            if self.stop.wait(self._stop_poll):
                self._close_response()
                return

    def _close_response(self) -> None:
        """Wake a read blocked on the live connection (from any thread).

        Closing a socket does not interrupt a ``recv`` blocked in another thread on Linux, but
        ``shutdown`` does: the reader sees end-of-stream and leaves its ``with`` block, which
        closes the response in the reader's own thread.
        """
        with self._response_lock:
            response = self._response
        if response is None:
            return
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):  # already closed by the other side
                sock.shutdown(socket.SHUT_RDWR)
