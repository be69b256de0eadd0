"""``python -m seedream.simulator``: run the Oxen simulator in the foreground."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

from seedream.simulator.config import (
    IMAGE_SIZE_MODES,
    SCHEMA_ERAS,
    SCHEMA_FIELDS,
    Latency,
    SimulatorConfig,
)
from seedream.simulator.scenarios import SCHEMA_ROUTE_MODES, Scenarios
from seedream.simulator.simulator import Simulator

API_KEY_ENV = "OXEN_SIMULATOR_API_KEY"


def parse_latency(text: str) -> Latency:
    """``"8"`` -> 8.0 seconds; ``"8-20"`` -> the range (8.0, 20.0)."""
    low, separator, high = text.partition("-")
    try:
        return (float(low), float(high)) if separator else float(low)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected seconds like 8 or 8-20, got {text!r}") from exc


def parse_fault(text: str) -> dict[str, Any]:
    """A ``--fault`` value: a JSON object with the fields of ``POST /_sim/faults``."""
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--fault expects a JSON object, got {text!r}") from exc
    if not isinstance(spec, dict) or "route" not in spec:
        raise argparse.ArgumentTypeError('--fault expects a JSON object with a "route"')
    return spec


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m seedream.simulator",
        description="A local test double of Oxen.ai's inference API. Nothing is sent to Oxen.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    parser.add_argument(
        "--api-key", default=os.environ.get(API_KEY_ENV), help=f"default: ${API_KEY_ENV}"
    )
    parser.add_argument("--namespace", default="sim-user", help="the key's username")
    parser.add_argument("--image-size", choices=IMAGE_SIZE_MODES, default="preset")
    for name, default in (("queue", 2.0), ("processing", (8.0, 20.0)), ("sync", (5.0, 15.0))):
        parser.add_argument(
            f"--{name}-latency",
            type=parse_latency,
            default=default,
            metavar="S[-S]",
            help=f"seconds, or a min-max range (default {default})",
        )
    parser.add_argument("--keepalive", type=float, default=15.0, help="SSE keep-alive seconds")
    parser.add_argument("--result-url-ttl", type=float, default=3600.0)
    parser.add_argument("--schema-era", choices=SCHEMA_ERAS, default="current")
    parser.add_argument("--schema-field", choices=SCHEMA_FIELDS, default="request_schema")
    parser.add_argument("--unrelated-events", action="store_true")
    parser.add_argument(
        "--fetch-external",
        action="store_true",
        help="allow fetching reference URLs on non-loopback hosts",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the latency jitter")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    faults = parser.add_argument_group(
        "fault scenarios", "also switchable at run time: POST /_sim/scenarios, /_sim/faults"
    )
    faults.add_argument(
        "--rate-limit-every",
        type=int,
        default=0,
        metavar="N",
        help="every Nth API request (any route, downloads too) answers 429",
    )
    faults.add_argument(
        "--rate-limit-retry-after",
        type=int,
        default=2,
        metavar="S",
        help="Retry-After seconds of those 429s (default 2)",
    )
    faults.add_argument(
        "--flaky-5xx",
        type=float,
        default=0.0,
        metavar="RATE",
        help="this fraction of API requests answers an HTML 503 before any work (e.g. 0.2)",
    )
    faults.add_argument(
        "--schema-route",
        choices=SCHEMA_ROUTE_MODES,
        default="up",
        help="the model routes: up, error (503), reset (closed) or blackhole (never answer)",
    )
    faults.add_argument(
        "--redirect-results",
        action="store_true",
        help="result files answer 302 to a second listener (another origin)",
    )
    faults.add_argument("--mirror-host", default=None, help="host name of the second listener")
    faults.add_argument("--mirror-port", type=int, default=0, help="0 picks a free port")
    faults.add_argument(
        "--sse-lifetime", type=float, default=0.0, metavar="S", help="cut event streams after S"
    )
    faults.add_argument(
        "--restart-every",
        type=float,
        default=0.0,
        metavar="S",
        help="restart the HTTP server every S seconds, keeping every generation",
    )
    faults.add_argument(
        "--restart-downtime",
        type=float,
        default=2.0,
        metavar="S",
        help="seconds the port stays closed on each restart (default 2)",
    )
    faults.add_argument(
        "--fault",
        type=parse_fault,
        action="append",
        default=[],
        metavar="JSON",
        help='inject a fault at start, e.g. \'{"route": "POST /api/ai/queue", "status": 503, '
        '"html": true, "times": 2}\' (repeatable)',
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Turn parsed arguments into a configuration."""
    return SimulatorConfig(
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        namespace=args.namespace,
        image_size=args.image_size,
        queue_latency=args.queue_latency,
        processing_latency=args.processing_latency,
        processing_latency_4k_factor=1.5,
        sync_latency=args.sync_latency,
        keepalive_interval=args.keepalive,
        result_url_ttl=args.result_url_ttl,
        schema_era=args.schema_era,
        schema_field=args.schema_field,
        unrelated_events=args.unrelated_events,
        fetch_external=args.fetch_external,
        seed=args.seed,
        log_requests=not args.quiet,
        rate_limit_every=args.rate_limit_every,
        rate_limit_retry_after=args.rate_limit_retry_after,
        flaky_5xx_rate=args.flaky_5xx,
        schema_route=args.schema_route,
        redirect_results=args.redirect_results,
        mirror_host=args.mirror_host,
        mirror_port=args.mirror_port,
        sse_lifetime=args.sse_lifetime,
        restart_every=args.restart_every,
        restart_downtime=args.restart_downtime,
        faults=tuple(args.fault),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM, then stop cleanly."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error(f"--api-key (or ${API_KEY_ENV}) is required")
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s oxen-sim %(message)s", stream=sys.stderr
    )
    # httpx logs every URL it fetches at INFO, and a reference URL (``/r/<token>``) is a secret
    # of the app's that no log may hold (Oxen's own logs are not ours; this one is).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    stop = threading.Event()

    def request_stop(signum: int, frame: types.FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        simulator = Simulator(config).start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        parser.error(str(exc))
    print(
        f"Oxen SIMULATOR listening on {simulator.base_url} — a local test double, "
        "nothing is sent to Oxen",
        flush=True,
    )
    defaults = Scenarios().describe()
    changed = {k: v for k, v in simulator.scenarios.describe().items() if v != defaults[k]}
    if changed or config.faults:
        print(
            f"Oxen SIMULATOR fault scenarios: {changed or 'none'}; injected faults: "
            f"{len(config.faults)}; mirror (second origin) at {simulator.mirror_base_url}",
            file=sys.stderr,
            flush=True,
        )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
    print("Oxen SIMULATOR stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
