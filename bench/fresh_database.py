"""A fresh database for a benchmark: SQLite in a temporary folder, or a PostgreSQL database
dropped and created again (never point it at one you want to keep)."""

from __future__ import annotations

import tempfile
from urllib.parse import urlsplit, urlunsplit


def fresh_database(url: str | None, *, prefix: str) -> str:
    """The URL of an empty database: ``url``'s, recreated, or a new SQLite file."""
    if url is None:
        folder = tempfile.mkdtemp(prefix=prefix)
        return f"sqlite:///{folder}/gallery.sqlite3"
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url
