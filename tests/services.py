"""Reachability of the real services the suite uses (PostgreSQL, Redis, Chromium).

``bin/test`` calls this module to choose what to run against; fixtures call it to fail (under
``CI=true``) or skip with a reason (elsewhere) when a service a test needs is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from urllib.parse import urlsplit

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def tcp_reachable(url: str, default_port: int, timeout: float = 1.0) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=timeout
        ):
            return True
    except OSError:
        return False


def postgres_reachable(url: str) -> bool:
    if not tcp_reachable(url, 5432):
        return False
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def redis_reachable(url: str) -> bool:
    if not tcp_reachable(url, 6379):
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def chromium_available() -> bool:
    return os.path.exists(CHROMIUM_PATH) or shutil.which(CHROMIUM_PATH) is not None


def main(argv: list[str]) -> int:
    kind, *rest = argv
    if kind == "postgres":
        return 0 if postgres_reachable(rest[0]) else 1
    if kind == "redis":
        return 0 if redis_reachable(rest[0]) else 1
    if kind == "chromium":
        return 0 if chromium_available() else 1
    raise SystemExit(f"unknown service {kind!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
