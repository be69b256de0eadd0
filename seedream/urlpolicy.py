"""Which URLs the downloader may fetch, and a connection backend that enforces it.

Result URLs come from Oxen's responses and events: server-supplied, so untrusted (OWASP SSRF
cheat sheet). A URL is fetched only when

* its scheme is https (http only with ``allow_loopback_http``, meant for the local simulator,
  and then only to loopback addresses),
* its host is the Oxen host or one of ``download_hosts`` (an entry ``.example.com`` or
  ``*.example.com`` also allows subdomains); a redirect hop may go to any host when
  ``follow_public_redirects`` is on (the default), because result storage answers with
  redirects to CDNs, and the address rule below is what keeps such a hop safe; and
* **every** address its host resolves to is public: no private, loopback (unless the flag),
  link-local, shared, reserved, multicast or unspecified address, IPv4-mapped IPv6 included.

DNS rebinding: a name can resolve to a public address when checked and a private one when the
socket connects. :class:`PinnedBackend` closes that gap: it resolves, checks every address and
then connects to one of the checked addresses itself, so the check and the connection use the
same resolution. TLS still verifies the certificate against the host name (httpcore passes the
request's host as the SNI/verification name, not the address).

A refusal by these rules is a :class:`~seedream.errors.DownloadPolicyError` (category
``policy``: a settings change may allow it); a URL that cannot be parsed or carries credentials
is a plain :class:`~seedream.errors.UnsafeURLError`.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

from seedream.config import ClientConfig
from seedream.errors import ConnectFailedError, DownloadPolicyError, UnsafeURLError

type Resolver = Callable[[str, int], Sequence[str]]
type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to (IPv4 and IPv6), without duplicates."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        # A DNS hiccup is worth another try later; nothing was sent.
        raise ConnectFailedError(f"cannot resolve {host!r}: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class UrlPolicy:
    """The download allow-list and address rules, derived from a :class:`ClientConfig`."""

    allowed_hosts: tuple[str, ...]
    allow_loopback_http: bool = False

    @classmethod
    def from_config(cls, config: ClientConfig) -> UrlPolicy:
        """The policy a config asks for."""
        return cls(config.allowed_download_hosts, config.allow_loopback_http)

    def check_url(self, url: str | httpx.URL, *, any_host: bool = False) -> httpx.URL:
        """Parse ``url`` and check its scheme, credentials and (unless ``any_host``) its host
        against the allow-list; no DNS yet."""
        text = str(url)
        try:
            parsed = httpx.URL(text)
            parts = urlsplit(text)
        except (httpx.InvalidURL, ValueError):
            raise UnsafeURLError("not a valid URL") from None
        if parsed.scheme == "http" and not self.allow_loopback_http:
            raise DownloadPolicyError("only https URLs are fetched")
        if parsed.scheme not in ("https", "http"):
            raise DownloadPolicyError(f"scheme {parsed.scheme!r} is not allowed")
        if parts.username or parts.password:
            raise UnsafeURLError("URLs with credentials are not fetched")
        host = parsed.host.lower().rstrip(".")
        if not host:
            raise UnsafeURLError("the URL has no host")
        if not any_host and not self.host_allowed(host):
            raise DownloadPolicyError(f"host {host!r} is not an allowed download host")
        return parsed

    def host_allowed(self, host: str) -> bool:
        """True when ``host`` is on the allow-list."""
        for allowed in self.allowed_hosts:
            if allowed.startswith(("*.", ".")):
                suffix = allowed.lstrip("*")
                if host.endswith(suffix) and host != suffix.lstrip("."):
                    return True
            elif host == allowed:
                return True
        return False

    def check_address(self, address: str, *, require_loopback: bool = False) -> IPAddress:
        """Raise :class:`DownloadPolicyError` unless ``address`` may be connected to."""
        try:
            ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise UnsafeURLError(f"{address!r} is not an IP address") from None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback and self.allow_loopback_http:
            return ip
        if require_loopback:
            raise DownloadPolicyError("plain http is only allowed to loopback addresses")
        if not ip.is_global or ip.is_multicast or ip.is_loopback or ip.is_link_local:
            raise DownloadPolicyError("the host resolves to a private or reserved address")
        return ip

    def resolve(
        self, host: str, port: int, resolver: Resolver, *, require_loopback: bool = False
    ) -> list[str]:
        """Resolve ``host`` and check every address; return them all (all are safe)."""
        addresses = list(resolver(host, port))
        if not addresses:
            raise UnsafeURLError(f"{host!r} resolves to no address")
        for address in addresses:
            self.check_address(address, require_loopback=require_loopback)
        return addresses


class PinnedBackend(httpcore.SyncBackend):
    """Connects only to addresses it has itself resolved and checked (no DNS rebinding)."""

    def __init__(self, policy: UrlPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve, check, then connect to the first checked address that answers."""
        addresses = self._policy.resolve(host, port, self._resolver)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(
                    address, port, timeout, local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error


class PinnedTransport(httpx.HTTPTransport):
    """An ``httpx.HTTPTransport`` whose connection pool uses :class:`PinnedBackend`."""

    def __init__(
        self,
        policy: UrlPolicy,
        *,
        resolver: Resolver = system_resolver,
        limits: httpx.Limits | None = None,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=10, max_keepalive_connections=5)
        super().__init__(limits=limits, trust_env=False)
        # httpx exposes no network_backend option; swap the (still unused) pool for ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(policy, resolver),
        )
