"""Fetching reference images the way Oxen's backend does: anonymously, at processing time.

Errors read like the upstream ones (``requests``' ``raise_for_status`` text), e.g.
``Failed to download input image: 403 Client Error: Forbidden for url: https://...``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http
import io
import ipaddress
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from PIL import Image

from seedream.simulator.images import ReferenceThumb, reference_thumb

FORBIDDEN_HOST = "forbidden.test"
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF", "GIF"})
MIN_EDGE = 14  # upstream: width and height must be > 14 px
MAX_PIXELS = 6000 * 6000  # upstream: at most 6000x6000 px in total
_DATA_URI = re.compile(
    r"^data:(?P<mime>image/[A-Za-z0-9.+-]+)(?:;[^,;]*)*;base64,(?P<data>.*)$", re.S
)


class ReferenceFetchError(Exception):
    """A reference image could not be used; ``str(exc)`` is the generation's error_message."""


@dataclass(frozen=True)
class LocalFile:
    """What the simulator's own file route would answer to an anonymous GET."""

    status: int
    body: bytes


# Resolves URLs that point at the simulator itself without a loopback HTTP round trip (which
# would show up in the request counters). Returns None when the URL is not the simulator's.
LocalResolver = Callable[[urllib.parse.SplitResult], LocalFile | None]


def _status_error(code: int, url: str) -> ReferenceFetchError:
    try:
        reason = http.HTTPStatus(code).phrase
    except ValueError:
        reason = "Unknown"
    kind = "Client" if code < 500 else "Server"
    return ReferenceFetchError(
        f"Failed to download input image: {code} {kind} Error: {reason} for url: {url}"
    )


def _is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def decode_data_uri(uri: str, label: str) -> bytes:
    """The bytes of a ``data:image/...;base64,`` URI, or a ReferenceFetchError."""
    match = _DATA_URI.match(uri)
    if match is None:
        raise ReferenceFetchError(
            f"Failed to download input image: {label} is a data URI but not data:image/*;base64"
        )
    try:
        return base64.b64decode("".join(match["data"].split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ReferenceFetchError(
            f"Failed to download input image: {label} has invalid base64 data ({exc})"
        ) from exc


def thumb_from_bytes(data: bytes, label: str, source: str) -> ReferenceThumb:
    """Decode and check one reference image, keeping only a small thumbnail of it."""
    try:
        image = Image.open(io.BytesIO(data))
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        raise ReferenceFetchError(
            f"Failed to download input image: {source} is not a valid image ({label})"
        ) from exc
    with image:
        if image.format not in ACCEPTED_FORMATS:
            raise ReferenceFetchError(
                f"Getting model response error: 400 - InvalidParameter: {label} format "
                f"{image.format} is not supported"
            )
        width, height = image.size
        if width <= MIN_EDGE or height <= MIN_EDGE or width * height > MAX_PIXELS:
            raise ReferenceFetchError(
                f"Getting model response error: 400 - InvalidParameter: {label} is "
                f"{width}x{height}, outside the accepted image size"
            )
        if image.format == "JPEG":
            image.draft("RGB", (512, 512))  # decode at 1/2..1/8 scale: we only need a thumbnail
        try:
            image.load()
        except OSError as exc:
            raise ReferenceFetchError(
                f"Failed to download input image: {source} is not a valid image ({label})"
            ) from exc
        return reference_thumb(label, image, hashlib.sha256(data).hexdigest())


class ReferenceFetcher:
    """Downloads and decodes reference images with a short timeout and a size cap."""

    def __init__(
        self,
        *,
        timeout: float,
        max_bytes: int,
        fetch_external: bool,
        local: LocalResolver,
    ) -> None:
        self._max_bytes = max_bytes
        self._fetch_external = fetch_external
        self._local = local
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def _http(self) -> httpx.Client:
        # Built on first use: most simulators never fetch a URL, and a client costs ~30 ms.
        with self._client_lock:
            if self._client is None:
                # trust_env=False: never route loopback fetches through an environment proxy.
                self._client = httpx.Client(
                    timeout=self._timeout, follow_redirects=True, trust_env=False
                )
            return self._client

    def close(self) -> None:
        """Release the HTTP connection pool."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def fetch_all(self, urls: list[str]) -> list[ReferenceThumb]:
        """Thumbnails of every reference, labelled Image1..N; the first failure raises."""
        return [self.fetch(url, f"Image{index}") for index, url in enumerate(urls, start=1)]

    def fetch(self, url: str, label: str) -> ReferenceThumb:
        """One reference, from a data URI or an http(s) URL."""
        if url.startswith("data:"):
            return thumb_from_bytes(decode_data_uri(url, label), label, f"data URI {label}")
        return thumb_from_bytes(self._download(url), label, url)

    def _download(self, url: str) -> bytes:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ReferenceFetchError(f"Failed to download input image: invalid URL {url!r}")
        if parts.hostname == FORBIDDEN_HOST or parts.hostname.endswith("." + FORBIDDEN_HOST):
            raise _status_error(403, url)
        local = self._local(parts)
        if local is not None:
            if local.status >= 400:
                raise _status_error(local.status, url)
            return self._capped(local.body, url)
        if not self._fetch_external and not _is_loopback_host(parts.hostname):
            raise ReferenceFetchError(
                f"Failed to download input image: {url} (the simulator only fetches loopback "
                "URLs; start it with fetch_external=True to allow other hosts)"
            )
        try:
            with self._http().stream("GET", url) as response:
                if response.status_code >= 400:
                    raise _status_error(response.status_code, url)
                data = bytearray()
                for chunk in response.iter_bytes():
                    data.extend(chunk)
                    if len(data) > self._max_bytes:
                        break
        except httpx.HTTPError as exc:
            raise ReferenceFetchError(
                f"Failed to download input image: {url} ({type(exc).__name__}: {exc})"
            ) from exc
        return self._capped(bytes(data), url)

    def _capped(self, data: bytes, url: str) -> bytes:
        if len(data) > self._max_bytes:
            raise ReferenceFetchError(
                f"Failed to download input image: {url} is larger than "
                f"{self._max_bytes // (1024 * 1024)} MB"
            )
        return data
