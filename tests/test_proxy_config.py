"""The compose file's reverse proxy (issue 15): its nginx config signs thumbnails the way the
app does, and nginx, run with it, serves signed thumbnails itself, refuses forged or expired
ones, and hands everything else (and URLs without its signature) to the app."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from string import Template

import httpx
import pytest
import yaml

from gallery.media import signed
from tests.conftest import missing_service

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx" / "gallery.conf.template"
TEAM = "3f2a9c1e-0b7d-4e5f-9a8b-1c2d3e4f5a6b"
SHA = "ab" + "c" * 62
SECRET = "proxy-test-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_secure_link_expression_is_the_one_the_app_signs() -> None:
    """nginx's secure_link_md5 expression, evaluated here the way nginx does, gives the
    signature ``gallery.media.signed.proxy_signature`` puts in the URL."""
    config = TEMPLATE.read_text()
    expression = re.search(r'secure_link_md5 "([^"]+)";', config).group(1)  # type: ignore[union-attr]
    assert (
        "$proxy_secret" in expression and 'set $proxy_secret "${THUMBNAIL_PROXY_SECRET}"' in config
    )
    path = f"/media/s/{TEAM}/{SHA[:2]}/{SHA[2:]}-400.webp"
    expires = 1_900_000_000
    values = {
        "secure_link_expires": str(expires),
        "uri": path,
        "team": TEAM,
        "proxy_secret": SECRET,
    }
    message = re.sub(r"\$(\w+)", lambda m: values[m.group(1)], expression)
    import base64
    import hashlib

    nginx_md5 = base64.urlsafe_b64encode(hashlib.md5(message.encode()).digest()).rstrip(b"=")  # noqa: S324
    assert nginx_md5.decode() == signed.proxy_signature(path, TEAM, expires, SECRET)
    # The location's pattern accepts exactly the app's signed paths.
    pattern = re.search(r'location ~ "([^"]+)"', config).group(1)  # type: ignore[union-attr]
    pattern = re.sub(r"\(\?<(\w+)>", r"(?P<\1>", pattern)
    assert re.match(pattern, path)
    assert not re.match(pattern, path.replace(".webp", ".webp/../x"))


def test_compose_runs_the_proxy_with_this_config() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    proxy = services["proxy"]
    assert (
        "./deploy/nginx/gallery.conf.template:/etc/nginx/templates/default.conf.template:ro"
        in (proxy["volumes"])
    )
    assert set(proxy["environment"]) == {"THUMBNAIL_PROXY_SECRET", "MEDIA_ROOT", "WEB_UPSTREAM"}
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"


@pytest.fixture
def app_stub() -> Iterator[int]:
    """Stands in for gunicorn: answers every request with 'app <path>'."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"app {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def nginx(tmp_path: Path, app_stub: int) -> Iterator[tuple[str, Path]]:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        missing_service("nginx (apt-get install nginx-light; .ci/run does this)")
    port = _free_port()
    media = tmp_path / "media"
    server = (
        Template(TEMPLATE.read_text())
        .safe_substitute(
            THUMBNAIL_PROXY_SECRET=SECRET,
            MEDIA_ROOT=str(media),
            WEB_UPSTREAM=f"127.0.0.1:{app_stub}",
        )
        .replace("listen 8080;", f"listen 127.0.0.1:{port};")
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        # As root, nginx's workers would drop to "nobody", who cannot read pytest's tmp_path.
        ("user root;\n" if os.geteuid() == 0 else "")
        + "worker_processes 1; error_log stderr; pid "
        + str(tmp_path / "nginx.pid")
        + ";\n"
        "events { worker_connections 64; }\n"
        "http { access_log off; client_body_temp_path " + str(tmp_path) + "/body; "
        "proxy_temp_path " + str(tmp_path) + "/proxy; fastcgi_temp_path " + str(tmp_path) + "/f; "
        "uwsgi_temp_path "
        + str(tmp_path)
        + "/u; scgi_temp_path "
        + str(tmp_path)
        + "/s;\n"
        + server
        + "\n}\n"
    )
    check = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [binary, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield base, media
    process.terminate()
    process.wait(10)


def test_nginx_serves_signed_thumbnails_itself_and_refuses_forgeries(
    nginx: tuple[str, Path], settings: object
) -> None:
    base, media = nginx
    settings.THUMBNAIL_PROXY_SECRET = SECRET  # type: ignore[attr-defined]
    settings.STORAGES = {  # type: ignore[attr-defined]
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    data = b"RIFF....WEBPVP8 thumbnail bytes"
    name = signed.storage_name(TEAM, SHA, 400)
    (media / name).parent.mkdir(parents=True)
    (media / name).write_bytes(data)
    url = signed.thumbnail_url(TEAM, SHA, 400)
    assert "&m=" in url

    served = httpx.get(base + url)
    assert served.status_code == 200 and served.content == data
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["x-content-type-options"] == "nosniff"

    path, query = url.split("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    forged = f"{path}?e={int(params['e']) + 86400}&s={params['s']}&m={params['m']}"
    assert httpx.get(base + forged).status_code == 404
    past = int(time.time()) - 60
    expired = f"{path}?e={past}&m={signed.proxy_signature(path, TEAM, past, SECRET)}"
    assert httpx.get(base + expired).status_code == 404
    other = url.replace("-400.webp", "-800.webp")
    assert httpx.get(base + other).status_code == 404
    # Without nginx's signature the app's own middleware decides; pages go to the app.
    unsigned = f"{path}?e={params['e']}&s={params['s']}"
    assert httpx.get(base + unsigned).text == f"app {unsigned}"
    assert httpx.get(base + "/items/").text == "app /items/"
    # A shared link's media are the app's to check (the link's state is in its cache).
    link_media = f"/media/l/{'0' * 32}/{'0' * 12}/{SHA[:2]}/{SHA[2:]}-400.webp?e=1&s=x"
    assert httpx.get(base + link_media).text == f"app {link_media}"
