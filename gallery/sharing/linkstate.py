"""A shared link's state in the cache, so its signed media URLs are checked without the
database or the session (issue 15).

The link's page checks everything (the link is live, the password was given, the image is in
it) and hands out signed URLs (``gallery.media.signed.link_thumbnail_url``) that name the link
and a fingerprint of its settings. Serving one asks only the cache: is this link's state live,
with that fingerprint, and not past its expiry?

* Revoking writes a tombstone (``gone``) after the transaction commits: every URL of the link
  answers 404 on its next request.
* Changing the settings that decide what a visitor may see (password, downloads, expiry)
  writes the new fingerprint: URLs handed out before answer 404, the page hands out new ones.
* The page only *adds* a state (never overwrites one), so a page rendered while the link is
  being revoked cannot bring it back; a state lost from the cache (eviction, a restart)
  makes the URLs answer 404 until the page is loaded again, which adds it back.

An image taken out of a link (or out of the collection a link follows) stays reachable by a URL
already handed out until that URL expires (24-48 h; the same rule as a member removed from the
team); the page never hands out a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

if TYPE_CHECKING:  # the media middleware imports this module: it loads no models
    from gallery.sharing.models import ShareLink

GONE = "gone"
# Longer than any signed URL lives (at most 48 h), so a tombstone outlives every URL of its link.
TIMEOUT = 3 * 24 * 60 * 60


def media_key(link: ShareLink) -> str:
    """The name a link's media URLs and its cached state go by: derived from its public id
    with the secret key, so the public page shows neither the link's id nor its team's."""
    message = f"gallery.sharing.link-media:{link.public_id}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]


def _cache_key(media_key_: str) -> str:
    return f"share-link-state:{media_key_}"


def fingerprint(link: ShareLink) -> str:
    """What decides which media a visitor may load, hashed: any change makes old URLs stale."""
    expires = link.expires_at.isoformat() if link.expires_at else ""
    what = f"{link.password_hash}|{link.allow_download}|{expires}"
    return hashlib.sha256(what.encode()).hexdigest()[:12]


def value(link: ShareLink) -> str:
    """``fingerprint:until:team`` for a live link (until 0: no expiry), else ``gone``."""
    if not link.is_active:
        return GONE
    until = int(link.expires_at.timestamp()) if link.expires_at else 0
    return f"{fingerprint(link)}:{until}:{link.team.public_id}"


def publish(link: ShareLink, *, deleted: bool = False) -> None:
    """Write the link's state once the transaction commits (every save and deletion, by the
    receivers below; the revocation's ``update()`` calls it itself)."""
    name, state = _cache_key(media_key(link)), GONE if deleted else value(link)
    transaction.on_commit(lambda: cache.set(name, state, TIMEOUT))


def prime(link: ShareLink) -> None:
    """The page of a live link: make sure its state is there, never overwriting one."""
    cache.add(_cache_key(media_key(link)), value(link), TIMEOUT)


def is_gone(media_key_: str, *, now: float | None = None) -> bool:
    """Whether the cache says the link was revoked, deleted or has expired (its media then
    answer 410, as its page does)."""
    state = cache.get(_cache_key(media_key_))
    if state == GONE:
        return True
    until = state.split(":")[1] if isinstance(state, str) and state.count(":") >= 2 else "0"
    return until.isdigit() and 0 < int(until) <= (now if now is not None else time.time())


def team_if_allowed(media_key_: str, fingerprint_: str, *, now: float | None = None) -> str | None:
    """The link's team (whose files its URLs name) if media URLs of the link with this
    fingerprint may be served now, else None: from the cache only."""
    state = cache.get(_cache_key(media_key_))
    if not isinstance(state, str) or state == GONE:
        return None
    current, until, team = [*state.split(":", 2), "", ""][:3]
    if current != fingerprint_ or not team:
        return None
    deadline = int(until or 0)
    if deadline and (now if now is not None else time.time()) >= deadline:
        return None
    return team


@receiver(post_save, sender="gallery.ShareLink")
@receiver(post_delete, sender="gallery.ShareLink")
def _link_saved_or_deleted(sender: type[ShareLink], instance: ShareLink, **kwargs: Any) -> None:
    publish(instance, deleted=kwargs.get("signal") is post_delete)
