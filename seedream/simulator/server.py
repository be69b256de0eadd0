"""HTTP plumbing: a threading HTTP/1.1 server, fault application, SSE streaming."""

from __future__ import annotations

import contextlib
import hmac
import logging
import queue
import select
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from seedream.simulator import wire
from seedream.simulator.api import FILE_ROUTE, OxenApi, Route, upload_summary
from seedream.simulator.control import handle_control
from seedream.simulator.events import KEEPALIVE, unrelated_frame
from seedream.simulator.faults import Fault
from seedream.simulator.state import MIRROR_PREFIX, SimulatorState
from seedream.simulator.wire import EventStream, Request, Response

logger = logging.getLogger("seedream.simulator")
CONTROL_PREFIX = "/_sim/"
# How often an idle event stream checks whether its client went away or it was told to end.
_STREAM_POLL = 0.25
INVALID_JSON_BODY = b'{"status": "success", "generations": [{"generation_id": <!-- oops'


class SimulatorHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that remembers open connections so ``stop()`` can cut them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        state: SimulatorState,
        api: OxenApi,
        handler: type[SimulatorRequestHandler] | None = None,
    ) -> None:
        super().__init__(address, handler or SimulatorRequestHandler)
        self.state = state
        self.api = api
        # Set when this server stops (for good or for a restart): black-holed requests end.
        self.closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up is routine for a test double; anything else is logged."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        logger.exception("simulator request from %s failed", client_address)

    def track(self, connection: socket.socket) -> None:
        """Remember an accepted connection."""
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        """Forget a finished connection."""
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open connection (keep-alive and streams) so clients notice at once."""
        self.closing.set()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def _corrupt(response: Response, how: str) -> Response:
    """Break a JSON body while keeping the HTTP framing valid."""
    body = response.body
    if not isinstance(body, bytes) or isinstance(response, EventStream):
        return response
    broken = body[: max(1, len(body) // 2)] if how == "truncated" else INVALID_JSON_BODY
    return Response(response.status, broken, response.content_type, dict(response.headers))


def _fault_response(fault: Fault) -> Response:
    if fault.body is None:
        return wire.injected_error(
            fault.status or 500, html=fault.html, retry_after=fault.retry_after
        )
    status = fault.status or 200
    if isinstance(fault.body, bytes | str):
        raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
        response = Response(status, raw, "text/html" if fault.html else "application/json")
    else:
        response = wire.json_response(status, fault.body)
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response


class SimulatorRequestHandler(BaseHTTPRequestHandler):
    """Turns each HTTP request into a :class:`Request`, applies faults, writes the answer."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus delayed ACK
    # add ~40 ms to every response.
    disable_nagle_algorithm = True
    server_version = "OxenSimulator/1.0"
    sys_version = ""

    @property
    def sim(self) -> SimulatorHTTPServer:
        """The server, typed."""
        return cast(SimulatorHTTPServer, self.server)

    def setup(self) -> None:
        """Track the connection for a prompt shutdown."""
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
        # and the client's delayed ACK add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sim.track(self.connection)

    def finish(self) -> None:
        """Untrack the connection; a client that vanished is not an error."""
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.sim.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's access log; :meth:`_log` writes ours."""

    def do_GET(self) -> None:
        """Handle GET."""
        self._handle()

    def do_POST(self) -> None:
        """Handle POST."""
        self._handle()

    def do_PUT(self) -> None:
        """Handle PUT."""
        self._handle()

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._handle()

    def do_PATCH(self) -> None:
        """Handle PATCH (no route uses it: 404)."""
        self._handle()

    # --- one request -------------------------------------------------------------------------

    def _handle(self) -> None:
        started = time.monotonic()
        raw_path, _, query_string = self.path.partition("?")
        body = self._read_body()
        if body is None:
            return
        try:
            if raw_path.startswith(CONTROL_PREFIX):
                self._handle_control(raw_path, query_string, body, started)
            else:
                self._handle_api(raw_path, query_string, body, started)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    def _read_body(self) -> bytes | None:
        limit = self.sim.state.config.max_request_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > limit:
            self.close_connection = True
            self._send(wire.envelope(413, "payload_too_large", "Request body too large"))
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self, limit: int) -> bytes | None:
        data = bytearray()
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                self.close_connection = True
                self._send(wire.bad_request("Malformed chunked request body"))
                return None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return bytes(data)
            if len(data) + size > limit:
                self.close_connection = True
                self._send(wire.envelope(413, "payload_too_large", "Request body too large"))
                return None
            data.extend(self.rfile.read(size))
            self.rfile.readline(8)

    def _request(
        self, route: str, raw_path: str, query: str, body: bytes, params: dict[str, str]
    ) -> Request:
        return Request(
            method=self.command,
            route=route,
            raw_path=raw_path,
            params=params,
            query=urllib.parse.parse_qs(query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            username=self.sim.state.username_for(self.headers.get("Authorization")),
        )

    def _handle_control(self, raw_path: str, query: str, body: bytes, started: float) -> None:
        state = self.sim.state
        _, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if not hmac.compare_digest(token.strip().encode(), state.config.api_key.encode()):
            response = wire.unauthenticated()
        else:
            request = self._request("control", raw_path, query, body, {})
            request.json = wire.parse_json(body)
            response = handle_control(state, request)
        if response.after_send is not None:
            self.close_connection = True
        self._send(response)
        self._log(raw_path, response.status, started)
        if response.after_send is not None:
            response.after_send()

    def _handle_api(self, raw_path: str, query: str, body: bytes, started: float) -> None:
        state = self.sim.state
        found = self.sim.api.match(self.command, raw_path)
        if found is None:
            state.count(f"{self.command} (unmatched)")
            missing = wire.not_found(f"No route for {self.command} {raw_path}")
            self._send(missing)
            self._log(raw_path, missing.status, started)
            return
        route, params = found
        request = self._request(route.key, raw_path, query, body, params)
        self._record(route, request)
        fault = state.faults.take(route.key)
        response = self._answer(route, request, fault)
        if response is None:
            self._log(raw_path, None, started, "connection closed by an injected fault")
        elif isinstance(response, EventStream):
            self._log(raw_path, response.status, started, "event stream opened")
            self._stream_events(response)
            self._log(raw_path, response.status, started, "event stream closed")
        else:
            self._send(response)
            self._log(raw_path, response.status, started, "injected fault" if fault else "")

    def _record(self, route: Route, request: Request) -> None:
        """Count the request and keep its body, before any fault decides its fate."""
        state = self.sim.state
        if route.json_body:
            request.json = wire.parse_json(request.body)
            text = request.body[:1000].decode("utf-8", "replace")
            state.record_body(
                route.key, request.json if request.has_json else {"_invalid_json": text}
            )
        elif route.method == "PUT" and route.template == FILE_ROUTE:
            state.record_body(route.key, upload_summary(request))
        state.count(route.key, self._generations_concerned(route, request.params))

    def _answer(self, route: Route, request: Request, fault: Fault | None) -> Response | None:
        """The response to send, with the fault applied; None when the connection was dropped."""
        state = self.sim.state
        if fault is not None and fault.delay:
            state.stopping.wait(fault.delay)
        if fault is not None and fault.replaces_response:
            return _fault_response(fault)
        if fault is not None and fault.blackhole:
            self._hang()
            return None
        if fault is not None and fault.reset:
            self._drop()
            return None
        response = self._authorise(route, request) or route.handler(request)
        state.attribute(route.key, response.generation_ids)
        if fault is not None and fault.drop:
            self._abandon(response)
            self._drop()
            return None
        if fault is not None and fault.malformed:
            return _corrupt(response, fault.malformed)
        return response

    def _generations_concerned(self, route: Route, params: dict[str, str]) -> list[str]:
        if route.template.startswith(("/api/ai/queue/", "/api/ai/generations/")):
            return [params["id"]]
        if route.template == FILE_ROUTE and route.method == "GET":
            generation_id = self.sim.state.generation_for_file(
                params["namespace"], params["repo"], params["branch"], params["path"]
            )
            return [generation_id] if generation_id else []
        return []

    def _authorise(self, route: Route, request: Request) -> Response | None:
        if request.username is not None or route.auth == "handler":
            return None
        if route.auth == "optional" and not self.headers.get("Authorization"):
            return None
        return wire.unauthenticated()

    # --- writing -----------------------------------------------------------------------------

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        body = response.body
        if isinstance(body, bytes):
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in body:
                if chunk:
                    self._write_chunk(chunk)
            self.wfile.write(b"0\r\n\r\n")
        finally:
            self._abandon(response)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _abandon(self, response: Response) -> None:
        """Release what an unsent response holds (a stream subscription, a lazy body)."""
        body = response.body
        if isinstance(body, Iterator) and hasattr(body, "close"):
            body.close()
        if isinstance(response, EventStream) and response.subscriber is not None:
            self.sim.state.hub.unsubscribe(response.subscriber)

    def _drop(self) -> None:
        """Close the connection without a word (after the request was fully read)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _hang(self) -> None:
        """Answer nothing until the client gives up or the server stops, then close."""
        while not self.sim.closing.wait(_STREAM_POLL) and not self._client_gone():
            pass
        self._drop()

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _stream_events(self, response: EventStream) -> None:
        """Stream events until the client leaves, a drop/stop ends it, or a write fails."""
        state = self.sim.state
        hub = state.hub
        subscriber = response.subscriber
        assert subscriber is not None
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Accel-Buffering", "no")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if hub.unrelated_events:
                self._write_chunk(unrelated_frame())
            last_write = opened = time.monotonic()
            interval = state.config.keepalive_interval
            lifetime = state.scenarios.sse_lifetime
            while True:
                if lifetime and time.monotonic() - opened >= lifetime:
                    break  # the sse_lifetime scenario: cut the stream as a proxy would
                wait = max(0.0, min(_STREAM_POLL, last_write + interval - time.monotonic()))
                try:
                    item = subscriber.items.get(timeout=wait)
                except queue.Empty:
                    item = None
                if item in ("drop", "close"):
                    break
                if isinstance(item, bytes):
                    self._write_chunk(item)
                    last_write = time.monotonic()
                elif time.monotonic() - last_write >= interval:
                    if not hub.silenced:
                        self._write_chunk(KEEPALIVE)
                    last_write = time.monotonic()
                if self._client_gone():
                    break
        except OSError:
            pass  # the client went away mid-write
        finally:
            hub.unsubscribe(subscriber)
            # No terminating chunk: to the client the stream just breaks, as on a real drop.
            self._drop()

    def _log(self, path: str, status: int | None, started: float, note: str = "") -> None:
        if not self.sim.state.config.log_requests:
            return
        elapsed = (time.monotonic() - started) * 1000
        outcome = "no response" if status is None else str(status)
        suffix = f"  [{note}]" if note else ""
        logger.info("%s %s -> %s (%.0f ms)%s", self.command, path, outcome, elapsed, suffix)


class MirrorRequestHandler(SimulatorRequestHandler):
    """The second listener: serves redirected result files at signed ``/results/{id}.jpeg``
    URLs, as a CDN on another origin would, and records whether credentials reached it."""

    server_version = "OxenSimulatorMirror/1.0"

    def _handle(self) -> None:
        started = time.monotonic()
        raw_path, _, query_string = self.path.partition("?")
        if self._read_body() is None:
            return
        state = self.sim.state
        state.record_mirror(raw_path, self.headers.get("Authorization"))
        response = self._mirror_response(raw_path, query_string)
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        self._log(raw_path, response.status, started, "mirror")

    def _mirror_response(self, raw_path: str, query_string: str) -> Response:
        state = self.sim.state
        name = raw_path.removeprefix(MIRROR_PREFIX)
        if self.command != "GET" or not raw_path.startswith(MIRROR_PREFIX):
            return wire.not_found(f"No route for {self.command} {raw_path}")
        generation = state.get(name.removesuffix(".jpeg"))
        if generation is None or generation.status != "succeeded":
            return wire.not_found("The result of this generation is not available")
        query = urllib.parse.parse_qs(query_string)
        expires, signature = (query.get(key, [None])[-1] for key in ("exp", "sig"))
        problem = state.signature_problem(raw_path, expires, signature)
        if problem is not None:
            return wire.forbidden(problem)
        result = state.result_body(generation)
        return Response(200, result.body, result.content_type)
