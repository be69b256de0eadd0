"""Signed, expiring thumbnail URLs (issue 15): thumbnails served off the per-request Django
path.

The page that lists thumbnails has already checked who may see them, so it hands out URLs
that carry their own permission: an HMAC-SHA256 (a key derived from ``SECRET_KEY``) over the
path, the team and an expiry. The expiry is rounded to a day, so a URL stays the same all day
and browser caches keep working; it lies 24-48 h ahead. ``SignedMediaMiddleware`` (first in
the middleware, before sessions and authentication) checks the signature and streams the file
without touching the database or the session.

What this means for revocation: a member removed from a team keeps loading the thumbnails
whose URLs their browser already holds until those URLs expire (at most 48 h, never a new
one: every page that hands URLs out checks membership first). A shared link's page hands out
URLs under ``/media/l/`` that name the link and a fingerprint of its settings; serving one also
asks the cache for the link's state (``gallery.sharing.linkstate``), so a revoked link's media
is gone on the next request, still without the database.
Behind the compose file's nginx (``THUMBNAIL_PROXY_SECRET`` set) each URL also carries
nginx's ``secure_link`` signature, and nginx serves the file itself. With S3 media the URL is
the store's own presigned URL (querystring auth), made once per
thumbnail per day in each process and expiring at the same moment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from functools import lru_cache

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

from gallery.sharing import linkstate

DAY = 24 * 60 * 60
PREFIX = "/media/s/"
# The only paths the middleware answers: a thumbnail's storage name, nothing else.
_PATH = re.compile(
    r"^/media/s/(?P<team>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/"
    r"(?P<shard>[0-9a-f]{2})/(?P<rest>[0-9a-f]{62})-(?P<width>[1-9][0-9]{0,4})\.webp$"
)


LINK_PREFIX = "/media/l/"
_LINK_PATH = re.compile(
    r"^/media/l/(?P<link>[0-9a-f]{32})/(?P<fingerprint>[0-9a-f]{12})/(?P<shard>[0-9a-f]{2})/(?P<rest>[0-9a-f]{62})-(?P<width>[1-9][0-9]{0,4})\.webp$"
)
_NAME = re.compile(
    r"^thumbnails/[0-9a-f-]{36}/(?P<shard>[0-9a-f]{2})/(?P<rest>[0-9a-f]{62})"
    r"-(?P<width>[1-9][0-9]{0,4})\.webp$"
)


def expiry(now: float | None = None) -> int:
    """The end of tomorrow (UTC), as a Unix time: the same for every URL made today."""
    today = int(now if now is not None else time.time()) // DAY
    return (today + 2) * DAY


@lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    return hashlib.sha256(b"gallery.media.signed-thumbnail:" + secret.encode()).digest()


def signature(path: str, team: str, expires: int) -> str:
    """HMAC-SHA256 over the path, the team and the expiry; 128 bits, base64url."""
    message = f"{path}\n{team}\n{expires}".encode()
    digest = hmac.new(_key(settings.SECRET_KEY), message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def storage_name(team: str, sha256: str, width: int) -> str:
    """Where ingest stores a thumbnail (``gallery.generation.ingest``)."""
    return f"thumbnails/{team}/{sha256[:2]}/{sha256[2:]}-{width}.webp"


def thumbnail_url(team: str, sha256: str, width: int, *, now: float | None = None) -> str:
    """A signed URL of a team's thumbnail; the caller has checked the viewer may see it."""
    name = storage_name(team, sha256, width)
    expires = expiry(now)
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        return _presigned(name, expires)
    path = f"{PREFIX}{name.removeprefix('thumbnails/')}"
    url = f"{path}?e={expires}&s={signature(path, team, expires)}"
    if settings.THUMBNAIL_PROXY_SECRET:
        url += f"&m={proxy_signature(path, team, expires, settings.THUMBNAIL_PROXY_SECRET)}"
    return url


def proxy_signature(path: str, team: str, expires: int, secret: str) -> str:
    """What nginx's ``secure_link`` checks (deploy/nginx/gallery.conf.template:
    ``secure_link_md5 "$secure_link_expires$uri$team $proxy_secret"``): base64url
    of the binary MD5, unpadded. A separate secret from ``SECRET_KEY``: the proxy never holds
    the application's key, and MD5 there is nginx's construction, not ours."""
    message = f"{expires}{path}{team} {secret}".encode()
    digest = hashlib.md5(message).digest()  # noqa: S324 (nginx secure_link_md5 is MD5)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@lru_cache(maxsize=50_000)
def _presigned(name: str, expires: int) -> str:
    """The store's presigned URL, made once per thumbnail per day (per process)."""
    storage = storages["default"]
    seconds = max(60, expires - int(time.time()))
    return str(storage.url(name, expire=seconds))  # type: ignore[call-arg]


def link_thumbnail_url(
    link: str, fingerprint: str, name: str, *, now: float | None = None
) -> str | None:
    """A signed URL of a stored thumbnail under a shared link (``link``: its media key), for
    its public page (which has checked the link and the image). The team is left out of the
    path (the link's cached state names it). None when ``name`` is no thumbnail or the media
    are not on the local disk: the page then uses the link's database-checked media URL."""
    match = _NAME.match(name)
    if match is None or not isinstance(storages["default"], FileSystemStorage):
        return None
    path = (
        f"{LINK_PREFIX}{link}/{fingerprint}/{match['shard']}/{match['rest']}-{match['width']}.webp"
    )
    expires = expiry(now)
    return f"{path}?e={expires}&s={signature(path, link, expires)}"


def _verified(
    pattern: re.Pattern[str], scope: str, path: str, expires: str | None, sig: str | None
) -> re.Match[str] | None:
    match = pattern.match(path)
    if match is None or not expires or not sig or not expires.isdigit() or len(expires) > 12:
        return None
    deadline = int(expires)
    if deadline < time.time():
        return None
    if not hmac.compare_digest(signature(path, match[scope], deadline), sig):
        return None
    return match


def verified_name(path: str, expires: str | None, sig: str | None) -> str | None:
    """The storage name a signed URL names, if its signature holds and it has not expired."""
    match = _verified(_PATH, "team", path, expires, sig)
    if match is None:
        return None
    return storage_name(match["team"], match["shard"] + match["rest"], int(match["width"]))


def verified_link_name(path: str, expires: str | None, sig: str | None) -> str | None:
    """The storage name a shared link's signed URL names, if its signature holds, it has not
    expired and the link's cached state still allows it (no database, no session)."""
    match = _verified(_LINK_PATH, "link", path, expires, sig)
    if match is None:
        return None
    team = linkstate.team_if_allowed(match["link"], match["fingerprint"])
    if team is None:
        return None
    return storage_name(team, match["shard"] + match["rest"], int(match["width"]))


def verified(path: str, expires: str | None, sig: str | None) -> str | None:
    """Either kind of signed media URL: a team's thumbnail or a shared link's."""
    if path.startswith(LINK_PREFIX):
        return verified_link_name(path, expires, sig)
    return verified_name(path, expires, sig)


# A browser keeps a shared link's image at most this long without asking again (the link may
# be revoked); a team's thumbnails, until their URL expires.
LINK_MAX_AGE = 60 * 60


def cache_control(path: str, expires: str) -> str:
    left = max(0, int(expires) - int(time.time()))
    if path.startswith(LINK_PREFIX):
        return f"private, max-age={min(left, LINK_MAX_AGE)}"
    return f"private, max-age={left}, immutable"


def refusal_status(path: str) -> int:
    """What a refused signed URL answers: 410 under a link the cache says is gone (revoked,
    deleted, expired), as the link's page does; 404 for anything else."""
    match = _LINK_PATH.match(path)
    return 410 if match is not None and linkstate.is_gone(match["link"]) else 404


def is_signed_path(path: str) -> bool:
    return path.startswith((PREFIX, LINK_PREFIX))
