"""Downloading a generation's result file safely.

Result URLs are presigned, expire, and come from the server, so they are treated as untrusted:

* only URLs allowed by :class:`~seedream.urlpolicy.UrlPolicy` are fetched, and every address
  of the host is checked before connecting (and pinned, see ``seedream.urlpolicy``);
* redirects are followed by hand, at most ``download_max_redirects``, each hop re-checked
  (scheme, credentials, every resolved address); a hop may leave the allow-list for another
  public host (a CDN) unless ``follow_public_redirects`` is off;
* the ``Authorization`` header goes only to the Oxen origin, and never again once a redirect
  has left it;
* a refusal by those rules is a :class:`~seedream.errors.DownloadPolicyError` (retry after a
  settings change), a connection that never opened a
  :class:`~seedream.errors.ConnectFailedError` (a refusal: nothing was sent);
* the body is streamed to a file, never held whole in memory, under a byte cap and a total
  deadline (httpx's read timeout is per chunk, so a slow drip would otherwise never end);
* the format is taken from the magic bytes (JPEG, PNG, WebP), never from the URL or
  ``Content-Type``, and a truncated file is rejected.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import httpx

from seedream.config import ClientConfig, url_origin
from seedream.errors import (
    AuthenticationError,
    BadContentError,
    ConnectFailedError,
    DownloadTimeoutError,
    DownloadTooLargeError,
    ResultExpiredError,
    TransientError,
    UnsafeURLError,
    error_from_response,
)
from seedream.mediatypes import ImageFormat, sniff_format
from seedream.pool import shared_download_client
from seedream.urlpolicy import Resolver, UrlPolicy, system_resolver

logger = logging.getLogger(__name__)

_SPOOL_IN_MEMORY = 1024 * 1024  # temp files stay in RAM up to 1 MiB, then go to disk
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_EXPIRED = frozenset({401, 403, 404, 410})
_ERROR_BODY_LIMIT = 4096


@dataclass(frozen=True)
class DownloadResult:
    """A finished download. ``file`` is the destination, positioned at its end when the
    caller supplied it, at its start when the downloader created it (then the caller closes
    it)."""

    size: int
    sha256: str
    format: ImageFormat
    content_type: str | None
    final_url: str
    file: IO[bytes]


def looks_complete(fmt: ImageFormat, head: bytes, tail: bytes, size: int) -> bool:
    """True when the file ends the way a complete file of ``fmt`` ends (truncation check)."""
    if fmt == "JPEG":
        return b"\xff\xd9" in tail  # end-of-image marker, allowing a little trailing padding
    if fmt == "PNG":
        return b"IEND\xaeB`\x82" in tail
    riff_size = int.from_bytes(head[4:8], "little")
    return riff_size + 8 <= size


class Downloader:
    """Fetches result files under a :class:`ClientConfig`'s safety rules."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        http: httpx.Client | None = None,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.policy = UrlPolicy.from_config(config)
        self._http = http
        self._resolver = resolver
        self._clock = clock

    @property
    def http(self) -> httpx.Client:
        """The client used: the injected one, else the process's pinned download client."""
        return self._http or shared_download_client(self.config)

    def fetch(self, url: str, dest: IO[bytes] | None = None) -> DownloadResult:
        """Download ``url`` into ``dest`` (or a new temporary file) and describe the result.

        Raises :class:`DownloadPolicyError` (the settings refuse a hop: retry after they
        change), :class:`UnsafeURLError`, :class:`DownloadTooLargeError`,
        :class:`DownloadTimeoutError`, :class:`BadContentError`, :class:`ResultExpiredError`
        (403/404/410: get a fresh URL), :class:`RateLimitedError` (429, with
        ``retry_after``), :class:`ConnectFailedError`, or a transient/auth error; check
        ``error.category``. On error a caller-supplied ``dest`` may hold partial data; a file
        the downloader created is closed.
        """
        own_file = dest is None
        sink: IO[bytes] = dest if dest is not None else _temp_file()
        try:
            result = self._fetch(url, sink)
        except BaseException:
            if own_file:
                sink.close()
            raise
        if own_file:
            sink.seek(0)
        return result

    def _fetch(self, url: str, sink: IO[bytes]) -> DownloadResult:
        deadline = self._clock() + self.config.download_deadline
        current = url
        left_oxen = False
        for hop in range(self.config.download_max_redirects + 1):
            target = self._check(current, redirected=hop > 0)
            send_key = not left_oxen and url_origin(target) == self.config.oxen_origin
            left_oxen = left_oxen or not send_key
            response = self._send(target, send_key=send_key, deadline=deadline)
            try:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    current = str(target.join(response.headers["location"]))
                    continue
                self._raise_for_status(response, sent_key=send_key)
                return self._stream_body(response, sink, deadline)
            finally:
                response.close()
        raise UnsafeURLError(
            f"more than {self.config.download_max_redirects} redirects",  # a loop, or a trap
            user_message="The image link from Oxen redirected too many times.",
        )

    def _check(self, url: str, *, redirected: bool) -> httpx.URL:
        # The pinned download client checks addresses again at connect time (that is the check
        # that counts against DNS rebinding); this early pass gives a clear error before any
        # request, and is the only address check when a test injects its own client.
        any_host = redirected and self.config.follow_public_redirects
        target = self.policy.check_url(url, any_host=any_host)
        port = target.port or (443 if target.scheme == "https" else 80)
        self.policy.resolve(
            target.host, port, self._resolver, require_loopback=target.scheme == "http"
        )
        return target

    def _send(self, target: httpx.URL, *, send_key: bool, deadline: float) -> httpx.Response:
        remaining = self._remaining(deadline)
        timeouts = self.config.timeouts
        headers = {
            "Accept-Encoding": "identity",  # count the bytes as sent; no decompression bombs
            "Accept": "image/*",
            "User-Agent": self.config.user_agent,
        }
        if send_key and self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key.reveal()}"
        request = self.http.build_request(
            "GET",
            target,
            headers=headers,
            timeout=httpx.Timeout(
                connect=min(timeouts.connect, remaining),
                read=min(timeouts.read, remaining),
                write=min(timeouts.write, remaining),
                pool=min(timeouts.pool, remaining),
            ),
        )
        try:
            return self.http.send(request, stream=True, follow_redirects=False)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ConnectFailedError(
                f"could not connect to {target.host} ({type(exc).__name__})"
            ) from None
        except httpx.TimeoutException:
            raise DownloadTimeoutError(f"no answer from {target.host} in time") from None
        except httpx.TransportError as exc:
            raise TransientError(
                f"download from {target.host} failed: {type(exc).__name__}"
            ) from None

    def _raise_for_status(self, response: httpx.Response, *, sent_key: bool) -> None:
        status = response.status_code
        if status < 300:
            return
        if status == 401 and sent_key:
            raise AuthenticationError("result download: HTTP 401", status_code=401)
        if status in _EXPIRED:
            raise ResultExpiredError(f"result URL answered HTTP {status}", status_code=status)
        body = _read_limited(response, _ERROR_BODY_LIMIT)
        raise error_from_response(status, response.headers, body, context="result download")

    def _stream_body(
        self, response: httpx.Response, sink: IO[bytes], deadline: float
    ) -> DownloadResult:
        cap = self.config.download_max_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise DownloadTooLargeError(f"result is {declared} bytes, the cap is {cap}")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            # We asked for identity; a compressed image body could be a decompression bomb.
            raise BadContentError(f"unexpected content encoding {encoding!r}")
        digest = hashlib.sha256()
        size = 0
        head = b""
        tail = b""
        fmt: ImageFormat | None = None
        try:
            for (
                chunk
            ) in response.iter_bytes():  # as received: a slow drip still meets the deadline check
                self._remaining(deadline)
                size += len(chunk)
                if size > cap:
                    raise DownloadTooLargeError(f"result exceeds the cap of {cap} bytes")
                if fmt is None and len(head) < 12:
                    head += chunk[: 12 - len(head)]
                    fmt = self._sniff(head, final=False)
                tail = (tail + chunk)[-32:]
                digest.update(chunk)
                sink.write(chunk)
        except httpx.TimeoutException:
            raise DownloadTimeoutError("the result download stalled") from None
        except httpx.TransportError as exc:
            raise TransientError(
                f"connection lost during the result download: {type(exc).__name__}"
            ) from None
        fmt = fmt or self._sniff(head, final=True)
        assert fmt is not None  # _sniff(final=True) raises instead of returning None
        if not looks_complete(fmt, head, tail, size):
            raise BadContentError(f"the {fmt} file is truncated ({size} bytes)")
        return DownloadResult(
            size=size,
            sha256=digest.hexdigest(),
            format=fmt,
            content_type=response.headers.get("content-type"),
            final_url=str(response.request.url.copy_with(query=None)),
            file=sink,
        )

    @staticmethod
    def _sniff(head: bytes, *, final: bool) -> ImageFormat | None:
        fmt = sniff_format(head)
        if fmt is None and (final or len(head) >= 12):
            raise BadContentError("the result is not a JPEG, PNG or WebP image")
        return fmt

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise DownloadTimeoutError(
                f"the result download took longer than {self.config.download_deadline:g}s"
            )
        return remaining


def _temp_file() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY, mode="w+b")


def _read_limited(response: httpx.Response, limit: int) -> bytes:
    data = b""
    try:
        for chunk in response.iter_bytes(1024):
            data += chunk
            if len(data) >= limit:
                break
    except httpx.HTTPError:
        pass  # the status already tells what went wrong; the body only adds detail
    return data[:limit]
