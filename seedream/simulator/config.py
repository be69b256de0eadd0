"""Configuration of the local Oxen simulator."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from seedream.simulator.scenarios import Scenarios

ImageSizeMode = Literal["preset", "small", "photo"]
SchemaEra = Literal["current", "legacy"]
SchemaField = Literal["request_schema", "json_request_schema", "both"]
Latency = float | tuple[float, float]

IMAGE_SIZE_MODES: tuple[ImageSizeMode, ...] = ("preset", "small", "photo")
SCHEMA_ERAS: tuple[SchemaEra, ...] = ("current", "legacy")
SCHEMA_FIELDS: tuple[SchemaField, ...] = ("request_schema", "json_request_schema", "both")


def latency_range(value: Latency) -> tuple[float, float]:
    """Normalise a latency given as seconds or as a ``(min, max)`` pair."""
    if isinstance(value, tuple):
        low, high = float(value[0]), float(value[1])
    else:
        low = high = float(value)
    if low < 0 or high < low:
        raise ValueError(f"latency must be >= 0 with min <= max, got {value!r}")
    return low, high


def jittered(value: Latency, seed: int, key: str) -> float:
    """A latency inside the range, the same for the same ``(seed, key)`` on every run.

    String seeds are hashed with SHA-512 by ``random.Random``, so this does not depend on
    ``PYTHONHASHSEED``; tests that script timings see the same delays every time.
    """
    low, high = latency_range(value)
    if high == low:
        return low
    return random.Random(f"{seed}:{key}").uniform(low, high)  # noqa: S311 - timing jitter


@dataclass(frozen=True)
class SimulatorConfig(Scenarios):
    """Everything that shapes one simulator instance.

    It starts with the named scenarios' fields (:class:`Scenarios`: ``rate_limit_every``,
    ``flaky_5xx_rate``, ``schema_route``, ``redirect_results``, ``sse_lifetime``,
    ``restart_every``, ...), the values in force at start and after a reset.

    Latencies are seconds, either a number or a ``(min, max)`` range; inside a range each
    generation gets a deterministic jitter derived from ``seed`` and its creation order.
    """

    api_key: str = "sim-key"
    host: str = "127.0.0.1"
    port: int = 0
    namespace: str = "sim-user"
    # Extra keys that authenticate as other users: {api_key: username}. SSE is user-scoped.
    extra_users: Mapping[str, str] = field(default_factory=dict)
    queue_latency: Latency = (0.05, 0.05)
    processing_latency: Latency = (0.2, 0.2)
    # 4K takes longer upstream; this multiplies processing_latency for size "4K".
    processing_latency_4k_factor: float = 1.0
    sync_latency: Latency = (0.1, 0.1)
    # "preset": the sizes' real pixel counts (2K: 2048 px); "small" keeps tests fast (2K: 256
    # px); "photo": the real sizes with photo-like detail, which compress and decode like a
    # real result (a 2K JPEG of ~0.5-1 MB instead of ~150 KB of flat shapes), for benches.
    image_size: ImageSizeMode = "small"
    keepalive_interval: float = 15.0
    result_url_ttl: float = 3600.0
    schema_era: SchemaEra = "current"
    schema_field: SchemaField = "request_schema"
    unrelated_events: bool = False
    # Repository that holds results when a queue request names no target_repo.
    results_repo: str = "ai-results"
    results_directory: str = "generations"
    seed: int = 0
    # Reference fetching: a short timeout, a per-image cap (Seedream's ~10 MB), and loopback
    # only unless fetch_external is set, so a test run never reaches the internet by accident.
    fetch_timeout: float = 5.0
    max_reference_bytes: int = 10 * 1024 * 1024
    fetch_external: bool = False
    # Bad-result outcomes.
    oversized_bytes: int = 80 * 1024 * 1024
    bomb_dimensions: tuple[int, int] = (30000, 30000)
    # Rendered results are cached by content; re-rendering is deterministic, so evicting is safe.
    image_cache_bytes: int = 256 * 1024 * 1024
    max_request_bytes: int = 64 * 1024 * 1024
    log_requests: bool = False
    # The second listener that redirected results point at (another origin, like a CDN):
    # its host name in URLs (default: "localhost" when ``host`` is 127.0.0.1, else ``host``)
    # and port (0 picks a free one). It listens on ``host``.
    mirror_host: str | None = None
    mirror_port: int = 0
    # Faults injected at start and again after every reset, as dicts with the fields of
    # ``POST /_sim/faults`` (``{"route": "POST /api/ai/queue", "status": 503, "times": 2}``).
    faults: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        for name in ("queue_latency", "processing_latency", "sync_latency"):
            latency_range(getattr(self, name))
        if self.image_size not in IMAGE_SIZE_MODES:
            raise ValueError(f"image_size must be one of {IMAGE_SIZE_MODES}")
        if self.schema_era not in SCHEMA_ERAS:
            raise ValueError(f"schema_era must be one of {SCHEMA_ERAS}")
        if self.schema_field not in SCHEMA_FIELDS:
            raise ValueError(f"schema_field must be one of {SCHEMA_FIELDS}")
        if not self.api_key:
            raise ValueError("api_key must not be empty")
        if self.keepalive_interval <= 0:
            raise ValueError("keepalive_interval must be > 0")
        if self.processing_latency_4k_factor <= 0:
            raise ValueError("processing_latency_4k_factor must be > 0")
        super().__post_init__()  # the scenarios' checks
        object.__setattr__(self, "faults", tuple(dict(spec) for spec in self.faults))

    def users(self) -> dict[str, str]:
        """Every accepted API key mapped to the username it authenticates as."""
        return {**dict(self.extra_users), self.api_key: self.namespace}
