"""What the benches that start servers share: a free loopback port, and waiting for an
address to answer."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, *, seconds: float = 30.0) -> None:
    """Return once ``url`` answers at all (any status); RuntimeError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


def nginx_static(
    prefix: Path, port: int, locations: dict[str, Path], *, more: str = ""
) -> subprocess.Popen[bytes]:
    """Debian's nginx (one worker, sendfile) serving folders as plain static files on
    127.0.0.1:``port``, each ``locations`` prefix from its folder: the baseline a bench
    compares the app with; ``more``: other server blocks for the same nginx. Stop it with
    SIGQUIT."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    temp = " ".join(
        f"{kind}_temp_path {prefix}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    served = " ".join(
        f"location {where} {{ alias {folder}/; default_type image/webp; types {{ }} }}"
        for where, folder in locations.items()
    )
    conf = prefix / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1; error_log {prefix}/error.log; pid {prefix}/nginx.pid;\n"
        + "events { worker_connections 512; }\n"
        + f"http {{ access_log off; sendfile on; {temp}\n"
        + f"server {{ listen 127.0.0.1:{port}; {served} }}\n{more}\n}}\n"
    )
    return subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
