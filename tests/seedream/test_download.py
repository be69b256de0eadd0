"""Result downloads: allowed hosts and addresses only, the key only to Oxen, hand-followed
redirects, a byte cap, a total deadline and magic-byte checks."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from PIL import Image

from seedream.config import ClientConfig, Secret
from seedream.download import Downloader
from seedream.errors import (
    AuthenticationError,
    BadContentError,
    DownloadTimeoutError,
    DownloadTooLargeError,
    ResultExpiredError,
    TransientError,
    UnsafeURLError,
)
from seedream.mediatypes import sniff_format
from seedream.urlpolicy import PinnedBackend, PinnedTransport, UrlPolicy
from tests.seedream.conftest import API_KEY

PUBLIC_IPS = {
    "hub.oxen.ai": ["34.120.1.10"],
    "cdn.example.com": ["151.101.1.1"],
    "evil.example.com": ["151.101.9.9"],
}
RESULT = "https://hub.oxen.ai/api/repos/me/gallery/file/main/generations/g1.jpeg?exp=1&sig=abc"


def image_bytes(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(out, fmt)
    return out.getvalue()


JPEG = image_bytes("JPEG")
PNG = image_bytes("PNG")
WEBP = image_bytes("WEBP")


def resolver(table: dict[str, list[str]] | None = None) -> Callable[[str, int], list[str]]:
    table = {**PUBLIC_IPS, **(table or {})}
    return lambda host, port: table[host]


class Recorder:
    """A MockTransport handler: answers by host+path from a table, records every request."""

    def __init__(
        self, answers: dict[str, Callable[[httpx.Request], httpx.Response] | httpx.Response]
    ):
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[f"{request.url.host}{request.url.path}"]
        return answer(request) if callable(answer) else answer


def downloader(
    recorder: Recorder,
    table: dict[str, list[str]] | None = None,
    clock: Callable[[], float] | None = None,
    **changes,
) -> Downloader:
    config = ClientConfig(api_key=Secret(API_KEY), download_hosts=("cdn.example.com",)).replace(
        **changes
    )
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    kwargs = {"clock": clock} if clock else {}
    return Downloader(config, http=http, resolver=resolver(table), **kwargs)


PATH = "hub.oxen.ai/api/repos/me/gallery/file/main/generations/g1.jpeg"


@pytest.mark.parametrize(("fmt", "data"), [("JPEG", JPEG), ("PNG", PNG), ("WEBP", WEBP)])
def test_a_valid_image_is_streamed_to_a_temp_file_with_size_hash_and_format(fmt, data):
    recorder = Recorder(
        {
            PATH: httpx.Response(
                200, content=data, headers={"content-type": "application/octet-stream"}
            )
        }
    )

    result = downloader(recorder).fetch(RESULT)

    assert result.format == fmt
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.file.read() == data
    assert "sig=" not in result.final_url
    result.file.close()


def test_download_writes_to_the_callers_file_and_sends_the_key_to_oxen():
    recorder = Recorder({PATH: httpx.Response(200, content=iter([JPEG[:100], JPEG[100:]]))})
    dest = io.BytesIO()

    result = downloader(recorder).fetch(RESULT, dest)

    assert dest.getvalue() == JPEG
    assert result.file is dest
    assert recorder.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert recorder.requests[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize(
    ("url", "table", "changes"),
    [
        ("http://hub.oxen.ai/x.jpeg", None, {}),
        ("ftp://hub.oxen.ai/x.jpeg", None, {}),
        ("file:///etc/passwd", None, {}),
        ("https://evil.example.com/x.jpeg", None, {}),
        ("https://user:pw@hub.oxen.ai/x.jpeg", None, {}),
        ("https://hub.oxen.ai/x.jpeg", {"hub.oxen.ai": ["10.0.0.5"]}, {}),
        ("https://hub.oxen.ai/x.jpeg", {"hub.oxen.ai": ["192.168.1.20"]}, {}),
        ("https://hub.oxen.ai/x.jpeg", {"hub.oxen.ai": ["169.254.169.254"]}, {}),
        ("https://hub.oxen.ai/x.jpeg", {"hub.oxen.ai": ["127.0.0.1"]}, {}),
        ("https://hub.oxen.ai/x.jpeg", {"hub.oxen.ai": ["::1"]}, {}),
        ("https://hub.oxen.ai/x.jpeg", {"hub.oxen.ai": ["fe80::1"]}, {}),
        ("https://hub.oxen.ai/x.jpeg", {"hub.oxen.ai": ["::ffff:10.0.0.1"]}, {}),
        ("https://hub.oxen.ai/x.jpeg", {"hub.oxen.ai": ["100.64.0.1"]}, {}),
        ("https://hub.oxen.ai/x.jpeg", {"hub.oxen.ai": ["0.0.0.0"]}, {}),
        (
            "https://hub.oxen.ai/x.jpeg",
            {"hub.oxen.ai": ["34.120.1.10", "10.0.0.5"]},
            {},
        ),  # every address counts
        (
            "https://169.254.169.254/latest/meta-data",
            {"169.254.169.254": ["169.254.169.254"]},
            {"download_hosts": ("169.254.169.254",)},
        ),
        (
            "http://hub.oxen.ai/x.jpeg",
            None,
            {"allow_loopback_http": True},
        ),  # plain http: loopback only
        (
            "https://hub.oxen.ai/x.jpeg",
            {"hub.oxen.ai": ["10.0.0.5"]},
            {"allow_loopback_http": True},
        ),
    ],
)
def test_unsafe_urls_are_refused_before_any_request(url, table, changes):
    recorder = Recorder({})

    with pytest.raises(UnsafeURLError):
        downloader(recorder, table, **changes).fetch(url)

    assert recorder.requests == []


def test_loopback_http_is_allowed_only_with_the_simulator_flag():
    url = "http://127.0.0.1:8123/api/repos/me/g/file/main/x.jpeg"
    recorder = Recorder(
        {"127.0.0.1/api/repos/me/g/file/main/x.jpeg": httpx.Response(200, content=JPEG)}
    )
    table = {"127.0.0.1": ["127.0.0.1"]}

    with pytest.raises(UnsafeURLError):
        downloader(recorder, table, base_url="http://127.0.0.1:8123").fetch(url)
    result = downloader(
        recorder, table, base_url="http://127.0.0.1:8123", allow_loopback_http=True
    ).fetch(url)

    assert result.format == "JPEG"
    assert recorder.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


def redirect(location: str, status: int = 302) -> httpx.Response:
    return httpx.Response(status, headers={"location": location})


def test_a_redirect_to_another_host_drops_the_authorization_header():
    recorder = Recorder(
        {
            PATH: redirect("https://cdn.example.com/signed/g1.jpeg?token=t"),
            "cdn.example.com/signed/g1.jpeg": httpx.Response(200, content=JPEG),
        }
    )

    result = downloader(recorder).fetch(RESULT)

    first, second = recorder.requests
    assert first.headers["authorization"] == f"Bearer {API_KEY}"
    assert "authorization" not in second.headers
    assert result.final_url == "https://cdn.example.com/signed/g1.jpeg"


def test_the_key_never_returns_once_a_redirect_has_left_oxen():
    recorder = Recorder(
        {
            PATH: redirect("https://cdn.example.com/hop"),
            "cdn.example.com/hop": redirect("https://hub.oxen.ai/final.jpeg", 307),
            "hub.oxen.ai/final.jpeg": httpx.Response(200, content=JPEG),
        }
    )

    downloader(recorder).fetch(RESULT)

    assert ["authorization" in r.headers for r in recorder.requests] == [True, False, False]


def test_a_foreign_result_url_never_gets_the_key():
    recorder = Recorder({"cdn.example.com/x.jpeg": httpx.Response(200, content=JPEG)})

    downloader(recorder).fetch("https://cdn.example.com/x.jpeg")

    assert "authorization" not in recorder.requests[0].headers


def test_a_redirect_to_a_disallowed_host_or_address_is_refused():
    # Hosts off the allow-list are refused only in the strict mode (issue 9: by default a
    # redirect may go to any public host, see test_download_redirects.py).
    recorder = Recorder({PATH: redirect("https://evil.example.com/x.jpeg")})
    with pytest.raises(UnsafeURLError):
        downloader(recorder, follow_public_redirects=False).fetch(RESULT)

    recorder = Recorder({PATH: redirect("https://cdn.example.com/x.jpeg")})
    with pytest.raises(UnsafeURLError):
        downloader(recorder, {"cdn.example.com": ["10.1.2.3"]}).fetch(RESULT)
    assert len(recorder.requests) == 1


def test_relative_redirects_resolve_against_the_current_url():
    recorder = Recorder(
        {PATH: redirect("/other.jpeg"), "hub.oxen.ai/other.jpeg": httpx.Response(200, content=PNG)}
    )

    assert downloader(recorder).fetch(RESULT).format == "PNG"


def test_redirects_are_capped():
    recorder = Recorder({PATH: redirect(RESULT)})

    with pytest.raises(UnsafeURLError, match="redirects"):
        downloader(recorder).fetch(RESULT)

    assert len(recorder.requests) == 6  # the first request plus 5 redirects


def test_declared_length_over_the_cap_is_refused_before_reading():
    recorder = Recorder({PATH: httpx.Response(200, content=JPEG)})

    with pytest.raises(DownloadTooLargeError):
        downloader(recorder, download_max_bytes=100).fetch(RESULT)


def test_a_streamed_body_over_the_cap_is_cut_off():
    def endless(request: httpx.Request) -> httpx.Response:
        def chunks() -> Iterator[bytes]:
            yield JPEG[:3]
            while True:
                yield b"\0" * 65536

        return httpx.Response(200, content=chunks())

    with pytest.raises(DownloadTooLargeError):
        downloader(Recorder({PATH: endless}), download_max_bytes=1_000_000).fetch(RESULT)


def test_the_total_deadline_ends_a_slow_drip():
    ticks = iter(range(1000))

    def drip(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=iter([JPEG[i : i + 10] for i in range(0, len(JPEG), 10)])
        )

    with pytest.raises(DownloadTimeoutError) as caught:
        downloader(
            Recorder({PATH: drip}), clock=lambda: float(next(ticks)), download_deadline=20
        ).fetch(RESULT)

    assert caught.value.retryable is True


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Sign in</body></html>",
        b"GIF89a" + b"\0" * 40,
        b"",
        JPEG[:-2] + b"\0\0",
        PNG[:-12],
    ],
    ids=["html", "gif", "empty", "jpeg-without-eoi", "truncated-png"],
)
def test_bodies_that_are_not_complete_jpeg_png_or_webp_are_refused(body):
    with pytest.raises(BadContentError):
        downloader(Recorder({PATH: httpx.Response(200, content=body)})).fetch(RESULT)


def test_a_truncated_webp_is_refused():
    with pytest.raises(BadContentError):
        downloader(Recorder({PATH: httpx.Response(200, content=WEBP[:-10])})).fetch(RESULT)


@pytest.mark.parametrize("status", [403, 404, 410])
def test_an_expired_signed_url_asks_for_a_fresh_one(status):
    recorder = Recorder({PATH: httpx.Response(status, text="expired")})

    with pytest.raises(ResultExpiredError) as caught:
        downloader(recorder).fetch(RESULT)

    assert caught.value.retryable is True


def test_401_from_oxen_with_the_key_is_an_authentication_error():
    with pytest.raises(AuthenticationError):
        downloader(Recorder({PATH: httpx.Response(401, json={})})).fetch(RESULT)


def test_5xx_is_transient():
    with pytest.raises(TransientError):
        downloader(Recorder({PATH: httpx.Response(502, text="bad gateway")})).fetch(RESULT)


def test_sniffing_uses_magic_bytes_only():
    assert sniff_format(JPEG[:12]) == "JPEG"
    assert sniff_format(PNG[:12]) == "PNG"
    assert sniff_format(WEBP[:12]) == "WEBP"
    assert sniff_format(b"RIFF\0\0\0\0WAVE") is None


# -- real sockets: the pinned backend connects only to addresses it checked ------------------


class ImageHandler(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", str(len(JPEG)))
        self.end_headers()
        self.wfile.write(JPEG)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_image_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_pinned_transport_refuses_a_name_that_rebinds_to_loopback(local_image_server):
    """The pre-check saw a public address; at connect time the name points at 127.0.0.1."""
    policy = UrlPolicy(("rebind.example.com",))
    transport = PinnedTransport(policy, resolver=lambda host, port: ["127.0.0.1"])
    config = ClientConfig(
        api_key=Secret(API_KEY), download_hosts=("rebind.example.com",), allow_loopback_http=False
    )
    url = f"https://rebind.example.com:{local_image_server}/x.jpeg"
    with httpx.Client(transport=transport) as http:
        dl = Downloader(config, http=http, resolver=lambda host, port: ["93.184.216.34"])
        with pytest.raises(UnsafeURLError):
            dl.fetch(url)


def test_pinned_backend_connects_to_the_checked_loopback_address_with_the_flag(local_image_server):
    config = ClientConfig(
        api_key=Secret(API_KEY),
        base_url=f"http://127.0.0.1:{local_image_server}",
        allow_loopback_http=True,
    )
    transport = PinnedTransport(UrlPolicy.from_config(config))
    with httpx.Client(transport=transport) as http:
        result = Downloader(config, http=http).fetch(
            f"http://127.0.0.1:{local_image_server}/x.jpeg"
        )

    assert result.format == "JPEG"


def test_pinned_backend_refuses_loopback_without_the_flag():
    backend = PinnedBackend(UrlPolicy(("localhost",)), resolver=lambda host, port: ["127.0.0.1"])

    with pytest.raises(UnsafeURLError):
        backend.connect_tcp("localhost", 443)
