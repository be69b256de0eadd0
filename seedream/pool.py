"""One pooled ``httpx.Client`` per process and config, recreated after ``os.fork``.

httpx's docs: reuse one Client for connection pooling. Celery's prefork pool forks workers
after import, and a socket shared by parent and child corrupts both conversations, so the
cache is dropped in the child (``os.register_at_fork``) and, as a second guard for forks that
skip the hook, whenever the process id changes. The parent's clients are not closed in the
child: closing would send TLS close-notify on the parent's live sockets.

The pooled clients carry no ``Authorization`` header: :class:`~seedream.client.OxenClient` adds
it per request, only to requests for the Oxen origin, so a client used for a foreign host can
never leak the key.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Literal

import httpx

from seedream.config import ClientConfig
from seedream.urlpolicy import PinnedTransport, UrlPolicy

type ClientKind = Literal["api", "download"]

# A handful of configs per process is normal (tests, settings reloads); bound it anyway.
_MAX_CLIENTS = 16

_lock = threading.Lock()
_pid = os.getpid()
_clients: OrderedDict[tuple[ClientKind, ClientConfig], httpx.Client] = OrderedDict()


def _forget_after_fork() -> None:
    global _lock, _pid
    _lock = threading.Lock()  # another thread may have held it at fork time
    _pid = os.getpid()
    _clients.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def shared_http_client(config: ClientConfig) -> httpx.Client:
    """The process's pooled client for Oxen API calls under ``config``."""
    return _get(("api", config))


def shared_download_client(config: ClientConfig) -> httpx.Client:
    """The process's pooled client for result downloads: pinned, checked addresses only, no
    proxies from the environment, no automatic redirects."""
    return _get(("download", config))


def close_shared_clients() -> None:
    """Close every pooled client of this process (for shutdown and tests)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def _get(key: tuple[ClientKind, ClientConfig]) -> httpx.Client:
    if os.getpid() != _pid:
        _forget_after_fork()
    with _lock:
        client = _clients.get(key)
        if client is not None and not client.is_closed:
            _clients.move_to_end(key)
            return client
        client = _build(*key)
        _clients[key] = client
        while len(_clients) > _MAX_CLIENTS:
            _clients.popitem(last=False)[1].close()
        return client


def _build(kind: ClientKind, config: ClientConfig) -> httpx.Client:
    limits = httpx.Limits(
        max_connections=config.max_connections,
        max_keepalive_connections=config.max_keepalive_connections,
    )
    headers = {"User-Agent": config.user_agent}
    if kind == "download":
        return httpx.Client(
            transport=PinnedTransport(UrlPolicy.from_config(config), limits=limits),
            timeout=config.timeouts.to_httpx(),
            headers=headers,
            follow_redirects=False,
            trust_env=False,
        )
    return httpx.Client(
        timeout=config.timeouts.to_httpx(),
        limits=limits,
        headers=headers,
        follow_redirects=False,
    )
