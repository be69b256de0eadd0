"""The public face of the simulator: start/stop, and the switches tests flip."""

from __future__ import annotations

import dataclasses
import threading
import time
import types
from typing import Any, Self

from seedream.simulator.api import OxenApi
from seedream.simulator.clock import Scheduler
from seedream.simulator.config import SchemaEra, SchemaField, SimulatorConfig
from seedream.simulator.control import (
    fault_from_spec,
    make_fault,
    make_outcome,
    sse_action,
    status_report,
)
from seedream.simulator.references import ReferenceFetcher
from seedream.simulator.scenarios import Scenarios
from seedream.simulator.server import MirrorRequestHandler, SimulatorHTTPServer
from seedream.simulator.state import TERMINAL_STATUSES, SimulatorState


class Simulator:
    """A local, real-HTTP test double of Oxen's hosted inference API.

    ``Simulator(config).start()`` serves on a background thread; use it as a context manager
    to stop it reliably. Every switch below also exists as an HTTP control route under
    ``/_sim/`` for out-of-process use.

    Two listeners run: the API on ``base_url`` and a *mirror* on ``mirror_base_url`` (another
    origin) that serves results when the ``redirect_results`` scenario is on. The simulator's
    clock (generations moving from queued to succeeded) runs from :meth:`start` to
    :meth:`stop`; :meth:`stop_http`, :meth:`start_http` and :meth:`restart` close and reopen
    only the API port, so generations keep progressing, and finish, while it is down.
    """

    def __init__(self, config: SimulatorConfig | None = None, **overrides: Any) -> None:
        config = config or SimulatorConfig()
        self.config = dataclasses.replace(config, **overrides) if overrides else config
        self.state = SimulatorState(self.config)
        self.api = OxenApi(self.state)
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._mirror: SimulatorHTTPServer | None = None
        self._mirror_thread: threading.Thread | None = None
        self._scheduler: Scheduler | None = None
        self._fetcher: ReferenceFetcher | None = None
        self._port: int | None = None
        # Set by stop(): ends a restart's downtime and the periodic restarter.
        self._halt = threading.Event()
        self._lifecycle_lock = threading.RLock()
        self._restarter: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the ports, start the clock and serve in background threads; returns self."""
        with self._lifecycle_lock:
            if self._scheduler is not None:
                raise RuntimeError("the simulator is already running")
            templates = [fault_from_spec(dict(spec)) for spec in self.config.faults]
            server = self._bind(self.config.port)
            port = int(server.server_address[1])
            try:
                mirror = SimulatorHTTPServer(
                    (self.config.host, self.config.mirror_port),
                    self.state,
                    self.api,
                    MirrorRequestHandler,
                )
            except OSError:
                server.server_close()
                raise
            self._port = port
            self._scheduler = Scheduler()
            self._fetcher = ReferenceFetcher(
                timeout=self.config.fetch_timeout,
                max_bytes=self.config.max_reference_bytes,
                fetch_external=self.config.fetch_external,
                local=lambda parts: self.api.local_file(parts, port),
            )
            self._halt.clear()
            self.state.stopping.clear()
            # Another host name as well as another port, where one is at hand: a CDN is a
            # different host, and download allow-lists compare host names, not ports.
            default_mirror = "localhost" if self._public_host == "127.0.0.1" else None
            mirror_host = self.config.mirror_host or default_mirror or self._public_host
            self.state.attach(
                self._scheduler,
                self._fetcher,
                f"http://{self._public_host}:{port}",
                f"http://{mirror_host}:{mirror.server_address[1]}",
            )
            self.state.configure_faults(templates)
            self.state.lifecycle = self
            self._mirror = mirror
            self._mirror_thread = self._serve_in_thread(mirror, "mirror")
            self._server = server
            self._thread = self._serve_in_thread(server, "http")
            self.scenarios_changed()
            return self

    def stop(self) -> None:
        """Stop serving, end open event streams and connections, and stop the clock."""
        with self._lifecycle_lock:
            if self._scheduler is None:
                return
            self._halt.set()
            self.state.stopping.set()
            self.state.lifecycle = None
            self.stop_http()
            mirror, self._mirror = self._mirror, None
            if mirror is not None:
                self._shut(mirror, self._mirror_thread)
            self._scheduler.stop()
            self._scheduler = None
            if self._fetcher is not None:
                self._fetcher.close()
        restarter = self._restarter
        if restarter is not None and restarter is not threading.current_thread():
            restarter.join(timeout=5)

    def stop_http(self) -> None:
        """Close the API port (clients get "connection refused"); the clock keeps running,
        so generations still finish (and are billed) while nobody can ask about them. Open
        event streams and connections are cut; events fired while down are lost."""
        with self._lifecycle_lock:
            server = self._server
            if server is None:
                return
            self.state.hub.close()
            self._shut(server, self._thread)
            self._server = None

    def start_http(self) -> None:
        """Serve the API again on the same port, with every generation, fault and counter."""
        with self._lifecycle_lock:
            if self._scheduler is None:
                raise RuntimeError("start() the simulator first")
            if self._server is not None or self._port is None:
                return
            server = self._bind(self._port)
            self._server = server
            self._thread = self._serve_in_thread(server, "http")

    def restart(self, downtime: float | None = None) -> None:
        """Stop serving HTTP, wait ``downtime`` seconds (default: the ``restart_downtime``
        scenario) with the port closed, then serve again; state and clock are kept."""
        seconds = self.state.scenarios.restart_downtime if downtime is None else downtime
        self.stop_http()
        if self._halt.wait(max(0.0, seconds)):
            return  # stopped for good during the downtime
        with self._lifecycle_lock:
            if not self._halt.is_set():
                self.start_http()

    def restart_soon(self, downtime: float) -> None:
        """:meth:`restart` on a background thread (the ``POST /_sim/restart`` route)."""
        threading.Thread(
            target=self.restart, args=(downtime,), name="oxen-sim-restart", daemon=True
        ).start()

    def scenarios_changed(self) -> None:
        """Start the periodic restarter when ``restart_every`` is set (it exits when unset)."""
        with self._lifecycle_lock:
            wanted = self.state.scenarios.restart_every > 0 and not self._halt.is_set()
            alive = self._restarter is not None and self._restarter.is_alive()
            if wanted and not alive:
                self._restarter = threading.Thread(
                    target=self._restart_periodically, name="oxen-sim-restarter", daemon=True
                )
                self._restarter.start()

    def _restart_periodically(self) -> None:
        last = time.monotonic()
        while not self._halt.wait(0.05):
            every = self.state.scenarios.restart_every
            if every <= 0:
                return
            if time.monotonic() - last >= every:
                self.restart()
                last = time.monotonic()

    @property
    def _public_host(self) -> str:
        host = self.config.host
        return "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104

    def _bind(self, port: int) -> SimulatorHTTPServer:
        return SimulatorHTTPServer((self.config.host, port), self.state, self.api)

    @staticmethod
    def _serve_in_thread(server: SimulatorHTTPServer, name: str) -> threading.Thread:
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"oxen-sim-{name}-{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        return thread

    @staticmethod
    def _shut(server: SimulatorHTTPServer, thread: threading.Thread | None) -> None:
        server.shutdown()
        server.server_close()  # the port refuses connections from here on
        server.close_connections()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self if self._server is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the API port is accepting requests (False while a restart is down)."""
        return self._server is not None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started (also while a restart is down)."""
        if self._port is None:
            raise RuntimeError("start() the simulator first")
        return self.state.base_url

    @property
    def port(self) -> int:
        """The API port (the same across restarts)."""
        if self._port is None:
            raise RuntimeError("start() the simulator first")
        return self._port

    @property
    def mirror_base_url(self) -> str:
        """The second listener's ``http://HOST:PORT``: the origin redirected results live on."""
        if self.state.mirror_base_url is None:
            raise RuntimeError("start() the simulator first")
        return self.state.mirror_base_url

    @property
    def api_key(self) -> str:
        """The key clients must send as ``Authorization: Bearer <key>``."""
        return self.config.api_key

    @property
    def auth_headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <key>"}``."""
        return {"Authorization": f"Bearer {self.config.api_key}"}

    def url(self, path: str) -> str:
        """An absolute URL on the simulator for ``path``."""
        return f"{self.base_url}/{path.lstrip('/')}"

    # --- faults, outcomes, switches ----------------------------------------------------------

    def inject(
        self,
        route: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        malformed: bool | str = False,
        drop: bool = False,
        reset: bool = False,
        blackhole: bool = False,
        html: bool = False,
        body: Any = None,
        times: int | None = 1,
        every: int | None = None,
        rate: float | None = None,
        seed: int = 0,
    ) -> None:
        """Fault the next ``times`` requests of ``route`` (``"POST /api/ai/queue"``, or ``"*"``).

        ``status`` answers 4xx/5xx with the hub's envelope (429: "Rate limit exceeded";
        5xx: ``unknown_error``; ``html=True``: an nginx-style HTML page) plus ``Retry-After``
        when ``retry_after`` is given, without handling the request (nothing is created);
        ``body`` overrides the answer's body. ``delay`` waits before handling. ``malformed``
        (True/"invalid" or "truncated") corrupts the real JSON answer. ``drop`` handles the
        request (so POST /api/ai/queue does create generations) and closes the connection
        without answering; ``reset`` closes it without handling anything; ``blackhole``
        accepts the request and never answers. ``every=N`` picks every Nth matching request,
        ``rate=p`` a seeded random fraction of them. ``times=None`` lasts until cleared.
        Faults on one route apply in injection order.
        """
        self.state.inject(
            make_fault(
                route,
                status=status,
                retry_after=retry_after,
                delay=delay,
                malformed=malformed,
                drop=drop,
                reset=reset,
                blackhole=blackhole,
                html=html,
                body=body,
                times=times,
                every=every,
                rate=rate,
                seed=seed,
            )
        )

    @property
    def scenarios(self) -> Scenarios:
        """The named scenarios in force (see ``seedream.simulator.scenarios``)."""
        return self.state.scenarios

    def set_scenarios(self, **changes: Any) -> Scenarios:
        """Change named scenarios while running, e.g. ``set_scenarios(rate_limit_every=3)``;
        the same names as the ``SimulatorConfig`` fields and ``POST /_sim/scenarios``."""
        return self.state.set_scenarios(changes)

    def mirror_requests(self) -> list[dict[str, Any]]:
        """Requests the second listener received: ``path``, ``authorization`` (whether any
        ``Authorization`` header came) and ``api_key`` (whether it held a valid key)."""
        return self.state.mirror_requests()

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        self.state.faults.clear()

    def script_outcomes(
        self, outcome: str, *, error: str | None = None, times: int | None = 1
    ) -> None:
        """The next ``times`` generations created via the queue end with ``outcome``.

        ``succeed`` (default), ``fail`` (with ``error`` as error_message), ``never`` (stays
        processing), or a bad result that still *succeeds*: ``truncated`` (half a JPEG),
        ``wrong_format`` (an HTML page), ``bomb`` (a tiny PNG declaring 30000x30000),
        ``oversized`` (``oversized_bytes`` streamed without Content-Length).
        Sync calls never consume scripted outcomes.
        """
        self.state.script_outcomes(make_outcome(outcome, error), times)

    def clear_outcomes(self) -> None:
        """Forget scripted outcomes: new generations succeed."""
        self.state.clear_outcomes()

    def sse(
        self,
        action: str,
        *,
        event: str | None = None,
        data: dict[str, Any] | None = None,
        username: str | None = None,
    ) -> int:
        """``drop`` (cut streams now), ``silence`` (send nothing, not even keep-alives),
        ``resume``, ``unrelated_on``/``unrelated_off``, or ``emit`` an arbitrary ``event``
        with ``data`` (to ``username``'s streams, default all). Returns streams touched."""
        return sse_action(self.state, action, event=event, data=data, username=username)

    def set_unrelated_events(self, enabled: bool) -> None:
        """Mix ``deployment_updated`` events into the stream (or stop doing so)."""
        self.state.hub.set_unrelated_events(enabled)

    def set_schema_era(self, era: SchemaEra) -> None:
        """Publish the ``current`` (2026-08-07) or ``legacy`` (2026-05-29) request schema."""
        self.state.set_schema(era=era)

    def set_schema_field(self, field: SchemaField) -> None:
        """Emit the schema as ``request_schema``, ``json_request_schema`` or ``both``."""
        self.state.set_schema(field_name=field)

    def reset(self, *, repos: bool = False) -> None:
        """Clear generations, counters, received bodies, faults and scripted outcomes; the
        scenarios and ``SimulatorConfig.faults`` go back to the configured ones."""
        self.state.reset(repos=repos)

    # --- inspection --------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """Requests per route template, e.g. ``{"POST /api/ai/queue": 3}`` (no control routes)."""
        return self.state.counters()

    def generation_counters(self, generation_id: str) -> dict[str, int]:
        """Requests per route template that concerned one generation (creation included)."""
        return self.state.generation_counters(generation_id)

    def received(self, route: str) -> list[dict[str, Any]]:
        """The JSON bodies received on ``route``, oldest first (multipart: a field summary)."""
        bodies: list[dict[str, Any]] = self.state.received(route)
        return bodies

    def generations(self) -> list[dict[str, Any]]:
        """A queue-shaped snapshot of every generation (queue and sync), in creation order."""
        return self.state.snapshot()

    def generation(self, generation_id: str) -> dict[str, Any] | None:
        """The queue view of one generation, or None."""
        return self.state.queue_view(generation_id)

    @property
    def generations_created(self) -> int:
        """How many generations were created since start (or the last reset)."""
        return self.state.generations_created

    def sse_connections(self) -> int:
        """How many event streams are open right now."""
        return self.state.hub.connections()

    def status_report(self) -> dict[str, Any]:
        """What ``GET /_sim/counters`` returns."""
        return status_report(self.state)

    def result_url(self, generation_id: str) -> str:
        """A freshly signed result URL for a generation."""
        generation = self.state.get(generation_id)
        if generation is None:
            raise KeyError(generation_id)
        return self.state.result_url(generation)

    def finish(
        self, generation_id: str, outcome: str = "succeed", *, error: str | None = None
    ) -> dict[str, Any]:
        """Complete a generation now with ``outcome``; no-op for a terminal one."""
        return self.state.finish(generation_id, make_outcome(outcome, error))

    def wait_for(
        self,
        generation_id: str,
        statuses: frozenset[str] = TERMINAL_STATUSES,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Block until a generation reaches one of ``statuses``; returns its queue view."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.state.queue_view(generation_id)
            if view is None:
                raise KeyError(generation_id)
            if view["status"] in statuses:
                return view
            if time.monotonic() > deadline:
                raise TimeoutError(f"generation {generation_id} is still {view['status']}")
            time.sleep(0.01)

    # --- repositories ------------------------------------------------------------------------

    def create_repo(self, namespace: str, name: str, *, public: bool = True) -> bool:
        """Create a repository directly (False if it exists)."""
        return self.state.repos.create(namespace, name, is_public=public) is not None

    def add_file(
        self,
        namespace: str,
        repo: str,
        path: str,
        data: bytes,
        *,
        branch: str = "main",
        public: bool = True,
    ) -> str:
        """Commit a file directly (creating the repo if needed); returns its download URL."""
        self.state.repos.create(namespace, repo, is_public=public)
        self.state.repos.commit(
            namespace, repo, branch, {path: data}, message=f"Add {path}", author="test", email="t@t"
        )
        return self.url(f"/api/repos/{namespace}/{repo}/file/{branch}/{path}")
