"""Thumbnails through the app against a plain static server, same bytes, wrk with 6
connections (issue 15).

    .venv/bin/python bench/bench_media.py [--seconds 10] [--connections 6] [--database-url URL]

Starts the app under gunicorn as the Procfile does (2 workers x 4 threads, DEBUG off) on a fresh
database with one team and one finished item whose 400 px thumbnail is a real ~20 KB WebP, and
nginx (Debian's, run from a temporary prefix) serving the same media folder as plain static
files and, on another port, the compose file's proxy config (deploy/nginx/gallery.conf.template)
in front of the same gunicorn. Then wrk fetches, one kind after the other, for --seconds each:

* before: the access-checked view (/media/t/…, with a session cookie: session, user,
  membership and thumbnail queries);
* now: the signed URL through gunicorn, answered by the WSGI wrapper (gallery.wsgi) and, on a
  second gunicorn running the bare Django application, by SignedMediaMiddleware (no session,
  no query either way);
* proxy: the signed URL through nginx secure_link (the compose file's proxy);
* baseline: the same file from nginx as a plain static file.

Prints requests/s, latency p50/p99 and the ratio to the baseline. Loopback only; it never
passes or fails.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from string import Template

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fresh_database import fresh_database  # noqa: E402
from bench.servers import free_port, nginx_static, wait_until_up  # noqa: E402

SECRET = "bench-media-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
PROXY_SECRET = "bench-media-proxy-secret"  # noqa: S105


def _fill(media: Path) -> tuple[str, str, bytes]:
    """One team, one item; returns (session cookie, signed path, thumbnail bytes)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from PIL import Image

    from gallery.accounts.models import User
    from gallery.media import signed
    from gallery.team.services import team_create
    from tests.factories import make_item

    owner = User.objects.create_user("owner", password=None)
    team = team_create(name="Bench", owner=owner)
    generation = make_item(team, owner, thumbnail_widths=(400,), size=(2048, 2048))
    thumb = generation.image.thumbnails.get()
    from bench.bench_thumbnails import photo_jpeg

    buffer = io.BytesIO()
    Image.open(io.BytesIO(photo_jpeg(400))).save(buffer, "WEBP", quality=80, method=4)
    data = buffer.getvalue()  # a photo-like 400 px WebP, as ingest makes
    (media / thumb.file.name).parent.mkdir(parents=True, exist_ok=True)
    (media / thumb.file.name).write_bytes(data)
    store = SessionStore()
    store[SESSION_KEY] = str(owner.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = owner.get_session_auth_hash()
    store.create()
    old = f"/media/t/{generation.image.public_id}/{thumb.sha256}-{thumb.width}.webp"
    new = signed.thumbnail_url(str(team.public_id), thumb.sha256, thumb.width)
    return f"sessionid={store.session_key}", f"{old}|{new}|{thumb.file.name}", data


def _nginx(prefix: Path, media: Path, web_port: int) -> tuple[subprocess.Popen[bytes], int, int]:
    """nginx serving ``media`` as static files, and the compose file's proxy in front of the
    app, each on a port of its own."""
    static_port, proxy_port = free_port(), free_port()
    proxy = Template((ROOT / "deploy/nginx/gallery.conf.template").read_text()).safe_substitute(
        THUMBNAIL_PROXY_SECRET=PROXY_SECRET,
        MEDIA_ROOT=str(media),
        WEB_UPSTREAM=f"127.0.0.1:{web_port}",
    )
    proxy = proxy.replace("listen 8080;", f"listen 127.0.0.1:{proxy_port};")
    return nginx_static(prefix, static_port, {"/": media}, more=proxy), static_port, proxy_port


def _wrk(url: str, seconds: float, connections: int, header: str = "") -> dict[str, float]:
    args = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:.0f}s", "--latency", url]
    if header:
        args[1:1] = ["-H", header]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rate,
        "p50": ms("50"),
        "p99": ms("99"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=6)
    parser.add_argument("--database-url")
    options = parser.parse_args()

    database = fresh_database(options.database_url, prefix="bench-media-")
    var = Path(tempfile.mkdtemp(prefix="bench-media-var-"))
    media = var / "media"
    media.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "OXEN_API_KEY")},
        "DATABASE_URL": database,
        "SECRET_KEY": SECRET,
        "VAR_DIR": str(var),
        "MEDIA_ROOT": str(media),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "THUMBNAIL_PROXY_SECRET": PROXY_SECRET,
        "DJANGO_SETTINGS_MODULE": "gallery.settings",
    }
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    cookie, paths, data = _fill(media)
    old, new, _ = paths.split("|")
    from django.db import connection

    connection.close()

    port = free_port()
    gunicorn = [
        sys.executable, "-m", "gunicorn", "gallery.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--threads", "4", "--graceful-timeout", "2",
    ]  # fmt: skip
    web = subprocess.Popen(
        gunicorn, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # The same app without the WSGI wrapper: the Django middleware answers signed URLs.
    bare_port = free_port()
    bare = [
        *gunicorn[:3],
        "gallery.wsgi:django_application",
        "--bind",
        f"127.0.0.1:{bare_port}",
        *gunicorn[6:],
    ]
    web_bare = subprocess.Popen(
        bare, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    prefix = Path(tempfile.mkdtemp(prefix="bench-media-nginx-"))
    nginx, static_port, proxy_port = _nginx(prefix, media, port)
    app, static, proxy = (
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{static_port}",
        f"http://127.0.0.1:{proxy_port}",
    )
    try:
        wait_until_up(f"{app}/healthz", seconds=20.0)
        wait_until_up(f"http://127.0.0.1:{bare_port}/healthz", seconds=20.0)
        wait_until_up(f"{static}/", seconds=20.0)
        name = new.split("?")[0].removeprefix("/media/s/")
        urls = {
            "before: access-checked view (session)": (f"{app}{old}", f"Cookie: {cookie}"),
            "now: signed URL, Django middleware": (f"http://127.0.0.1:{bare_port}{new}", ""),
            "now: signed URL, WSGI wrapper": (f"{app}{new}", ""),
            "proxy: signed URL through nginx": (f"{proxy}{new}", ""),
            "baseline: nginx static file": (f"{static}/thumbnails/{name}", ""),
        }
        for label, (url, header) in urls.items():
            got = httpx.get(url, headers=dict([header.split(": ", 1)]) if header else {})
            if got.status_code != 200 or got.content != data:
                raise RuntimeError(f"{label}: {got.status_code}, not the thumbnail's bytes")
        results = {
            label: _wrk(url, options.seconds, options.connections, header)
            for label, (url, header) in urls.items()
        }
    finally:
        nginx.send_signal(signal.SIGQUIT)
        web.terminate()
        web_bare.terminate()
        nginx.wait(10)
        web.wait(10)
        web_bare.wait(10)

    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"{os.cpu_count()} CPUs, gunicorn 2 workers x 4 threads (as the Procfile), nginx 1 worker, "
        f"wrk -t2 -c{options.connections} -d{options.seconds:.0f}s, one {len(data) / 1000:.1f} KB "
        f"thumbnail, the same bytes from every server"
    )
    base = results["baseline: nginx static file"]["rps"]
    print(f"{'':42} {'req/s':>9} {'p50':>9} {'p99':>9} {'x static':>9} {'non-2xx':>8}")
    for label, r in results.items():
        print(
            f"{label:42} {r['rps']:9.0f} {r['p50']:7.2f}ms {r['p99']:7.2f}ms "
            f"{r['rps'] / base:8.2f}x {r['non2xx']:8.0f}"
        )
    print("Target (issue 15): thumbnails at >= 0.5x the static server's rate, 6 connections.")


if __name__ == "__main__":
    main()
