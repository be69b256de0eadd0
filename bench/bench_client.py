"""Benchmark of the Oxen client's own overhead. Prints figures; never passes or fails.

1. Status calls: ``OxenClient.queue_get`` against the local simulator, side by side with a
   bare ``httpx.Client.get`` + ``.json()`` of the same URL in the same run (same pooled
   connection settings), median and p95 over ``--calls`` calls each, interleaved so both see
   the same machine noise. The difference is what the client adds: header building, error
   mapping, retry wrapper and typed parsing.
2. Event throughput: how many ``media_generation_completed`` events per second the
   ``EventStream`` consumer parses, fed by a tiny local SSE server that writes ``--events``
   frames as fast as the socket takes them.

Run: .venv/bin/python bench/bench_client.py [--calls 500] [--events 20000]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

# `python bench/bench_client.py` puts bench/ first on sys.path; the packages live one up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seedream.client import OxenClient
from seedream.config import ClientConfig, EventStreamPolicy, Secret
from seedream.responses import CompletionEvent
from seedream.simulator import Simulator, SimulatorConfig

KEY = "bench-key"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def force_simulator_nodelay() -> bool:
    """Set TCP_NODELAY on the simulator's handler; True if it was not set already.

    Its handler writes headers and body in separate sends; without TCP_NODELAY, Nagle plus the
    client's delayed ACK stall every small response by ~40 ms, which would hide the client's
    sub-millisecond overhead entirely.
    """
    from seedream.simulator.server import SimulatorRequestHandler

    forced = not getattr(SimulatorRequestHandler, "disable_nagle_algorithm", False)
    SimulatorRequestHandler.disable_nagle_algorithm = True
    return forced


def bench_status_calls(calls: int) -> None:
    if force_simulator_nodelay():
        print("note: forced TCP_NODELAY on the simulator's handler (else ~40 ms per response)")
    config = SimulatorConfig(api_key=KEY, processing_latency=(0.05, 0.05), image_size="small")
    with Simulator(config).start() as sim:
        client_config = ClientConfig(api_key=Secret(KEY), base_url=sim.base_url)
        client = OxenClient(client_config)  # the process's pooled client, as in production
        (queued,) = client.queue_submit({"prompt": "bench"})
        sim.wait_for(queued.generation_id)
        url = f"{sim.base_url}/api/ai/queue/{queued.generation_id}"
        bare = httpx.Client(timeout=client_config.timeouts.to_httpx())
        headers = {"Authorization": f"Bearer {KEY}"}

        def bare_get() -> object:
            response = bare.get(url, headers=headers)
            response.raise_for_status()
            return response.json()

        def client_get() -> object:
            return client.queue_get(queued.generation_id)

        for _ in range(50):  # warm both pools and the simulator
            bare_get()
            client_get()
        bare_ms: list[float] = []
        client_ms: list[float] = []
        for _ in range(calls):
            bare_ms.append(timed(bare_get))
            client_ms.append(timed(client_get))
        bare.close()

    print(f"status call (GET /api/ai/queue/{{id}}), {calls} calls each, interleaved:")
    print(f"  {'':24}{'median ms':>10}{'p95 ms':>10}")
    for name, values in (("bare httpx get+json", bare_ms), ("OxenClient.queue_get", client_ms)):
        print(f"  {name:24}{statistics.median(values):10.3f}{percentile(values, 0.95):10.3f}")
    overhead = statistics.median(client_ms) - statistics.median(bare_ms)
    print(f"  client overhead (median): {overhead * 1000:.0f} µs per call")


def sse_server(events: int) -> tuple[ThreadingHTTPServer, int]:
    frames = b"".join(
        b"event: media_generation_completed\ndata: "
        + json.dumps(
            {
                "generation_id": f"00000000-0000-0000-0000-{i:012d}",
                "status": "succeeded",
                "media_type": "image",
                "model": "bytedance-seedream-4-5",
                "url": f"https://hub.oxen.ai/api/repos/me/r/file/main/generations/{i}.jpeg?sig=x",
            },
            separators=(",", ":"),
        ).encode()
        + b"\n\n"
        + (b": keep-alive\n\n" if i % 100 == 0 else b"")
        for i in range(events)
    )

    class Blast(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(frames)
            time.sleep(5)  # keep the stream open; the consumer stops itself

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Blast)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def bench_events(events: int) -> None:
    server, port = sse_server(events)
    config = ClientConfig(
        api_key=Secret(KEY),
        base_url=f"http://127.0.0.1:{port}",
        events=EventStreamPolicy(read_timeout=10.0),
    )
    stream = OxenClient(config).events()
    received = 0
    started = 0.0
    for item in stream:
        if not isinstance(item, CompletionEvent):
            started = time.perf_counter()  # the Connected marker: the clock starts now
            continue
        received += 1
        if received == events:
            break
    elapsed = time.perf_counter() - started
    stream.close()
    server.shutdown()
    server.server_close()
    print(f"event consumer: {events} completion events in {elapsed:.3f} s")
    print(f"  {events / elapsed:,.0f} events/s ({elapsed / events * 1e6:.1f} µs per event)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"python {platform.python_version()}, httpx {httpx.__version__}, {platform.machine()}")
    bench_status_calls(args.calls)
    bench_events(args.events)


if __name__ == "__main__":
    main()
