"""Configuration of the Oxen inference client: one frozen, hashable dataclass.

The config is hashable on purpose: the process-wide HTTP pool (``seedream.pool``) caches one
``httpx.Client`` per distinct config. The API key lives in a :class:`Secret` whose ``repr`` and
``str`` are masked, so a config (or anything that holds one) can be logged or shown in a
traceback without leaking the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import metadata
from urllib.parse import urlsplit

import httpx

DEFAULT_BASE_URL = "https://hub.oxen.ai"
DEFAULT_MODEL = "bytedance-seedream-4-5"
MiB = 1024 * 1024


def _package_version() -> str:
    try:
        return metadata.version("seedream-gallery")
    except metadata.PackageNotFoundError:  # running from a bare checkout
        return "0.0.0"


VERSION = _package_version()
DEFAULT_USER_AGENT = (
    f"seedream-gallery/{VERSION} (+self-hosted Seedream team gallery) httpx/{httpx.__version__}"
)


def url_origin(url: str | httpx.URL) -> tuple[str, str, int]:
    """(scheme, lower-cased host, port) of a URL: what "same origin" compares."""
    parsed = httpx.URL(str(url))
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return (parsed.scheme, parsed.host.lower(), port)


@dataclass(frozen=True)
class Secret:
    """A string that never shows itself in ``repr``/``str``; call :meth:`reveal` to use it."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """Return the secret value. Only the code that builds the auth header should call this."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __reduce__(self) -> str:
        # Pickles end up in brokers and result backends: a secret must never travel that way.
        raise TypeError("Secret values cannot be pickled; pass ids and read settings instead")


@dataclass(frozen=True)
class Timeouts:
    """httpx timeouts in seconds; ``read`` is per chunk of bytes, not a total."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 5.0

    def to_httpx(self, *, read: float | None = None) -> httpx.Timeout:
        """The equivalent ``httpx.Timeout``, optionally with a different read timeout."""
        return httpx.Timeout(
            connect=self.connect,
            read=self.read if read is None else read,
            write=self.write,
            pool=self.pool,
        )


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of calls that are safe to repeat: exponential backoff with full jitter.

    ``max_attempts`` counts the first try. A computed backoff never exceeds ``max_delay``; a
    server's ``Retry-After`` is always honoured (the next request never goes out before it),
    but the client never sleeps longer than ``max_sleep``: past that it raises the error so the
    caller (e.g. a Celery task) can reschedule itself instead of holding a worker.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_sleep: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_sleep < 0:
            raise ValueError("delays must not be negative")


@dataclass(frozen=True)
class EventStreamPolicy:
    """How the ``/api/events`` consumer detects silence and reconnects."""

    # Oxen sends ": keep-alive" every 15 s; three missed keep-alives mean a dead connection.
    read_timeout: float = 45.0
    backoff_base: float = 1.0
    backoff_max: float = 30.0


@dataclass(frozen=True)
class ClientConfig:
    """Everything the client needs; build one from settings in the app layer."""

    api_key: Secret = field(default_factory=lambda: Secret(""))
    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    timeouts: Timeouts = field(default_factory=Timeouts)
    # The sync image routes block while the model runs (5-60 s, slower for 4K).
    sync_read_timeout: float = 180.0
    user_agent: str = DEFAULT_USER_AGENT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    events: EventStreamPolicy = field(default_factory=EventStreamPolicy)
    max_connections: int = 20
    max_keepalive_connections: int = 10
    # Result downloads: hosts a result URL may name besides the Oxen host (empty = the Oxen
    # host only). Redirect hops from there may go to any host whose every address is public
    # (https, checked again at connect time) unless follow_public_redirects is off; then they
    # too must be on this list. The key is only ever sent to the Oxen origin.
    download_hosts: tuple[str, ...] = ()
    follow_public_redirects: bool = True
    # Only for the local simulator: allow http:// and loopback addresses for downloads.
    allow_loopback_http: bool = False
    download_max_bytes: int = 64 * MiB
    download_deadline: float = 120.0
    download_max_redirects: int = 5
    # Cached request schemas are re-read after this many seconds (the docs drift often).
    schema_ttl: float = 300.0

    def __post_init__(self) -> None:
        if isinstance(self.api_key, str):  # accept a plain string but never keep it bare
            object.__setattr__(self, "api_key", Secret(self.api_key))
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an absolute http(s) URL")
        object.__setattr__(self, "download_hosts", tuple(self.download_hosts))

    @property
    def oxen_host(self) -> str:
        """The lower-cased host name of ``base_url``."""
        return (urlsplit(self.base_url).hostname or "").lower()

    @property
    def oxen_origin(self) -> tuple[str, str, int]:
        """(scheme, host, port) of ``base_url``: the only origin that receives the API key."""
        return url_origin(self.base_url)

    @property
    def allowed_download_hosts(self) -> tuple[str, ...]:
        """The Oxen host plus ``download_hosts``, lower-cased."""
        hosts = (self.oxen_host, *self.download_hosts)
        return tuple(dict.fromkeys(h.lower().rstrip(".") for h in hosts if h))

    def replace(self, **changes: object) -> ClientConfig:
        """A copy with some fields changed (``dataclasses.replace`` with a friendlier name)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
