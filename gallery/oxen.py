"""The app's door to Oxen: a client configured from settings, the live request schema of a
model, and whether the event listener is up.

The simulator is used only when settings say so (``OXEN_SIMULATOR``, set by ``bin/run`` when
there is no key); with no key and no simulator every call fails with a message saying so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache

from seedream.client import OxenClient
from seedream.config import ClientConfig, Secret, Timeouts
from seedream.errors import AuthenticationError
from seedream.schema import RequestSchema

if TYPE_CHECKING:
    pass


LISTENER_HEARTBEAT_KEY = "oxen:listener-heartbeat"
LISTENER_HEARTBEAT_TTL = 30


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
        allow_loopback_http=settings.OXEN_SIMULATOR,
        download_max_bytes=settings.OXEN_DOWNLOAD_MAX_BYTES,
    )


def get_client() -> OxenClient:
    """A client for this process (cheap: the pooled httpx client is shared per config)."""
    if not settings.OXEN_API_KEY:
        raise OxenNotConfiguredError()
    return OxenClient(client_config())


def get_schema(*, model: str, refresh: bool = False) -> RequestSchema:
    """``model``'s live request schema, cached by the client for a few minutes. Each request
    is shaped by the schema of the model it names, so a second model is a setting."""
    return get_client().request_schema(model, refresh=refresh)


def listener_heartbeat() -> None:
    cache.set(LISTENER_HEARTBEAT_KEY, True, timeout=LISTENER_HEARTBEAT_TTL)


def event_stream_connected() -> bool:
    """Whether a listener is running: then polling is only a slow safety net."""
    return bool(cache.get(LISTENER_HEARTBEAT_KEY))
