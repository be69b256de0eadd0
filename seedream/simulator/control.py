"""Run-time switches shared by the Python API and the ``/_sim/`` HTTP control routes."""

from __future__ import annotations

from typing import Any, Literal, cast

from seedream.simulator import wire
from seedream.simulator.api import ROUTE_KEYS
from seedream.simulator.faults import ANY_ROUTE, Fault, normalise_malformed
from seedream.simulator.state import OUTCOME_KINDS, Outcome, OutcomeKind, SimulatorState
from seedream.simulator.wire import Request, Response

SseAction = Literal["drop", "silence", "resume", "unrelated_on", "unrelated_off", "emit"]
SSE_ACTIONS: tuple[str, ...] = (
    "drop",
    "silence",
    "resume",
    "unrelated_on",
    "unrelated_off",
    "emit",
)
_FAULT_KEYS = frozenset(
    {
        "status",
        "retry_after",
        "delay",
        "malformed",
        "drop",
        "reset",
        "blackhole",
        "html",
        "body",
        "times",
        "every",
        "rate",
        "seed",
    }
)


def make_fault(
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
) -> Fault:
    """Build a fault for a route template (``"POST /api/ai/queue"``) or ``"*"`` (every route).

    The fields are :class:`~seedream.simulator.faults.Fault`'s."""
    if route != ANY_ROUTE and route not in ROUTE_KEYS:
        known = ", ".join(ROUTE_KEYS)
        raise ValueError(f"unknown route {route!r}; use one of: {known}, or '*'")
    return Fault(
        route=route,
        status=status,
        retry_after=retry_after,
        delay=float(delay),
        malformed=normalise_malformed(malformed),
        drop=drop,
        reset=reset,
        blackhole=blackhole,
        html=html,
        body=body,
        times=times,
        every=every,
        rate=None if rate is None else float(rate),
        seed=seed,
    )


def fault_from_spec(spec: dict[str, Any]) -> Fault:
    """A fault from a ``POST /_sim/faults`` body (or a ``SimulatorConfig.faults`` entry)."""
    unknown = set(spec) - _FAULT_KEYS - {"route"}
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    kwargs = {key: spec[key] for key in _FAULT_KEYS if key in spec}
    return make_fault(str(spec.get("route")), **kwargs)


def make_outcome(kind: str, error: str | None = None) -> Outcome:
    """Validate an outcome name (``succeed``, ``fail``, ``never``, or a bad-result kind)."""
    if kind not in OUTCOME_KINDS:
        raise ValueError(f"outcome must be one of {OUTCOME_KINDS}, got {kind!r}")
    return Outcome(cast(OutcomeKind, kind), error)


def sse_action(
    state: SimulatorState,
    action: str,
    *,
    event: str | None = None,
    data: dict[str, Any] | None = None,
    username: str | None = None,
) -> int:
    """Apply an SSE switch; returns how many streams it touched (0 for switches)."""
    hub = state.hub
    if action == "drop":
        return hub.drop()
    if action == "silence":
        hub.silence()
    elif action == "resume":
        hub.resume()
    elif action in ("unrelated_on", "unrelated_off"):
        hub.set_unrelated_events(action == "unrelated_on")
    elif action == "emit":
        if not event:
            raise ValueError("emit needs an event name")
        return hub.publish(username, event, data or {}, media=False)
    else:
        raise ValueError(f"action must be one of {SSE_ACTIONS}, got {action!r}")
    return 0


def status_report(state: SimulatorState) -> dict[str, Any]:
    """Everything a test driving the simulator out of process may want to assert on."""
    era, field = state.schema
    return {
        "counters": state.counters(),
        "generation_counters": state.all_generation_counters(),
        "generations": state.snapshot(),
        "generations_created": state.generations_created,
        "received": state.received(),
        "faults": state.faults.pending(),
        "standing_faults": state.faults.standing(),
        "scenarios": state.scenarios.describe(),
        "sse_connections": state.hub.connections(),
        "schema": {"era": era, "field": field},
        "mirror": {"base_url": state.mirror_base_url, "requests": state.mirror_requests()},
    }


def _ok(**extra: Any) -> Response:
    return wire.json_response(200, {"status": "success", **extra})


def _body(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    if not isinstance(request.json, dict):
        raise ValueError("the body must be a JSON object")
    return request.json


def handle_control(state: SimulatorState, request: Request) -> Response:
    """Dispatch a ``/_sim/...`` request; errors become 400 with a readable detail."""
    try:
        return _dispatch(state, request)
    except (ValueError, TypeError) as exc:
        return wire.bad_request(str(exc))
    except KeyError as exc:
        return wire.not_found(f"Unknown generation {exc}")


def _dispatch(state: SimulatorState, request: Request) -> Response:
    method, path = request.method, request.raw_path.rstrip("/")
    if (method, path) == ("GET", "/_sim/counters"):
        return wire.json_response(200, status_report(state))
    if path == "/_sim/faults":
        if method == "DELETE":
            state.faults.clear()
            return _ok()
        if method == "GET":
            return wire.json_response(200, {"faults": state.faults.pending()})
        if method == "POST":
            state.inject(fault_from_spec(_body(request)))
            return _ok(faults=state.faults.pending())
    if path == "/_sim/scenarios":
        if method == "GET":
            return wire.json_response(200, {"scenarios": state.scenarios.describe()})
        if method == "POST":
            scenarios = state.set_scenarios(_body(request))
            return _ok(scenarios=scenarios.describe())
    if (method, path) == ("POST", "/_sim/restart"):
        body = _body(request)
        downtime = body.get("downtime")
        if downtime is not None and (not isinstance(downtime, int | float) or downtime < 0):
            raise ValueError("downtime must be a number of seconds >= 0")
        lifecycle = state.lifecycle
        if lifecycle is None:
            raise ValueError("this simulator cannot restart itself")
        seconds = state.scenarios.restart_downtime if downtime is None else float(downtime)
        response = _ok(downtime=seconds)
        # Answer first: the restart closes every connection, this one included.
        response.after_send = lambda: lifecycle.restart_soon(seconds)
        return response
    if path == "/_sim/outcomes":
        if method == "DELETE":
            state.clear_outcomes()
            return _ok()
        if method == "POST":
            body = _body(request)
            kind = str(body.get("outcome") or body.get("kind") or "")
            times = body.get("times", 1)
            state.script_outcomes(make_outcome(kind, body.get("error")), times)
            return _ok()
    if (method, path) == ("POST", "/_sim/sse"):
        body = _body(request)
        touched = sse_action(
            state,
            str(body.get("action")),
            event=body.get("event"),
            data=body.get("data"),
            username=body.get("username"),
        )
        return _ok(streams=touched)
    if (method, path) == ("POST", "/_sim/schema"):
        body = _body(request)
        state.set_schema(body.get("era"), body.get("field"))
        era, field = state.schema
        return _ok(era=era, field=field)
    if (method, path) == ("POST", "/_sim/reset"):
        state.reset(repos=bool(_body(request).get("repos", False)))
        return _ok()
    if method == "POST" and path.startswith("/_sim/finish/"):
        body = _body(request)
        generation_id = path.removeprefix("/_sim/finish/")
        outcome = make_outcome(str(body.get("outcome", "succeed")), body.get("error"))
        return wire.json_response(200, state.finish(generation_id, outcome))
    return wire.not_found(f"No control route {method} {path}")
