"""The app's door to Oxen: a client configured from settings, the model's request schema (live,
or the last good copy stored in the database while Oxen cannot be reached), and whether the
event listener's stream is up.

The simulator is used only when settings say so (``OXEN_SIMULATOR``, set by ``bin/run`` when
there is no key); with no key and no simulator every call fails with a message saying so."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from gallery.generation.models import StoredSchema
from seedream.client import OxenClient
from seedream.config import ClientConfig, Secret, Timeouts
from seedream.errors import AuthenticationError, OxenError, TransientError
from seedream.schema import RequestSchema

logger = logging.getLogger(__name__)

# The listener's stream liveness (see gallery.generation.listener): the key exists only while
# the stream delivers. The listener refreshes it every second, so a killed listener stops
# claiming the stream within this many seconds and polling takes over.
LISTENER_HEARTBEAT_KEY = "oxen:listener-heartbeat"
LISTENER_HEARTBEAT_TTL = 3

# Reading the schema: a web request waits at most FORM_SCHEMA_TIMEOUT seconds (connecting,
# reading and retrying included), a worker at most WORKER_SCHEMA_TIMEOUT. After a failed read
# nobody asks Oxen again for SCHEMA_FAILURE_TTL seconds: the stored copy is used at once.
FORM_SCHEMA_TIMEOUT = 3.0
WORKER_SCHEMA_TIMEOUT = 10.0
SCHEMA_FAILURE_TTL = 30
_SCHEMA_FAILURE_KEY = "oxen:schema-unreachable:{model}"
# A schema read live is written to the database when it changed, else at most this often.
_STORE_EVERY = timedelta(minutes=5)


class OxenNotConfiguredError(AuthenticationError):
    def __init__(self) -> None:
        super().__init__(
            "OXEN_API_KEY is not set",
            user_message="Oxen is not configured on this server: an admin must set OXEN_API_KEY.",
        )


def client_config() -> ClientConfig:
    """Built at call time from settings, so tests and reconfiguration take effect at once."""
    return ClientConfig(
        api_key=Secret(settings.OXEN_API_KEY),
        base_url=settings.OXEN_BASE_URL,
        model=settings.OXEN_MODEL,
        timeouts=Timeouts(
            connect=min(10.0, settings.OXEN_TIMEOUT),
            read=settings.OXEN_TIMEOUT,
            write=settings.OXEN_TIMEOUT,
        ),
        download_hosts=tuple(settings.OXEN_DOWNLOAD_HOSTS),
        follow_public_redirects=settings.OXEN_DOWNLOAD_PUBLIC_REDIRECTS,
        allow_loopback_http=settings.OXEN_SIMULATOR,
        download_max_bytes=settings.OXEN_DOWNLOAD_MAX_BYTES,
    )


def get_client() -> OxenClient:
    """A client for this process (cheap: the pooled httpx client is shared per config)."""
    if not settings.OXEN_API_KEY:
        raise OxenNotConfiguredError()
    return OxenClient(client_config())


@dataclass(frozen=True)
class SchemaRead:
    """A model's request schema as it could be had: live, or the stored copy (``stored_at``
    says when that copy was read from Oxen), or none (``error`` says why)."""

    schema: RequestSchema | None
    stored_at: datetime | None = None
    error: OxenError | None = None

    @property
    def live(self) -> bool:
        return self.schema is not None and self.stored_at is None


def schema_read(
    *,
    model: str,
    timeout: float = WORKER_SCHEMA_TIMEOUT,
    refresh: bool = False,
    store: bool = True,
) -> SchemaRead:
    """``model``'s request schema: the client's cached or live copy (read within ``timeout``
    seconds), else, when Oxen is unreachable or failing, the last good copy stored here.

    A live copy is stored (``store``; web requests pass False, since a GET changes no row:
    workers and beat's ``schema_refresh`` keep the copy fresh). A failed read is remembered for
    ``SCHEMA_FAILURE_TTL`` seconds, so the next callers use the stored copy at once instead of
    each waiting again. An error Oxen means (a wrong key, an unknown model) is not papered
    over: it comes back with no schema."""
    if not settings.OXEN_API_KEY:
        return SchemaRead(None, error=OxenNotConfiguredError())
    failure_key = _SCHEMA_FAILURE_KEY.format(model=model)
    live_error: OxenError | None = None
    if refresh or not cache.get(failure_key):
        try:
            schema = get_client().request_schema(model, refresh=refresh, timeout=timeout)
        except OxenError as exc:
            if not exc.retryable:
                return SchemaRead(None, error=exc)
            live_error = exc
            cache.set(failure_key, True, timeout=SCHEMA_FAILURE_TTL)
            logger.warning("reading the %s schema failed (%s); using the stored one", model, exc)
        else:
            if store:
                _schema_store(model, schema)
            return SchemaRead(schema)
    stored = StoredSchema.objects.filter(model=model).first()
    if stored is None:
        return SchemaRead(None, error=live_error or _unreachable())
    return SchemaRead(RequestSchema.from_json(stored.schema), stored_at=stored.fetched_at)


def get_schema(
    *, model: str, refresh: bool = False, timeout: float = WORKER_SCHEMA_TIMEOUT
) -> RequestSchema:
    """``model``'s request schema, live or stored (see :func:`schema_read`); raises the
    ``OxenError`` that kept it from being read when there is no stored copy either. Each
    request is shaped by the schema of the model it names, so a second model is a setting."""
    read = schema_read(model=model, timeout=timeout, refresh=refresh)
    if read.schema is None:
        assert read.error is not None
        raise read.error
    return read.schema


def schema_refresh(*, model: str) -> bool:
    """Read ``model``'s schema from Oxen now and store it (beat, every few minutes, so the
    copy the form falls back to is recent). Returns whether Oxen answered."""
    return schema_read(model=model, refresh=True).live


def _schema_store(model: str, schema: RequestSchema) -> None:
    data, now = schema.as_json(), timezone.now()
    stored = StoredSchema.objects.filter(model=model).values_list("schema", "fetched_at").first()
    if stored and stored[0] == data and now - stored[1] < _STORE_EVERY:
        return
    StoredSchema.objects.update_or_create(model=model, defaults={"schema": data, "fetched_at": now})


def _unreachable() -> OxenError:
    return TransientError(
        "the model schema could not be read and none is stored",
        user_message="Oxen could not be reached just now, and the gallery has no stored copy "
        "of the model's settings yet.",
    )


def listener_heartbeat() -> None:
    """Say the event stream is up, for the next ``LISTENER_HEARTBEAT_TTL`` seconds."""
    cache.set(LISTENER_HEARTBEAT_KEY, True, timeout=LISTENER_HEARTBEAT_TTL)


def listener_gone() -> None:
    """Say at once that the event stream is down."""
    cache.delete(LISTENER_HEARTBEAT_KEY)


def event_stream_connected() -> bool:
    """Whether a listener's stream is delivering right now: then polling is a slow safety net."""
    return bool(cache.get(LISTENER_HEARTBEAT_KEY))
