"""Shared links: creating and revoking them, counting their use, and password checks with
rate limits."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from gallery.accounts.models import User
from gallery.errors import ApplicationError
from gallery.generation.models import GalleryImage
from gallery.sharing.access import UNLOCKED_SESSION_KEY, may_manage_link
from gallery.sharing.models import ShareLink, ShareLinkItem
from gallery.sharing.selectors import expiry_limits, unshareable_images
from gallery.team.models import Membership, Team
from gallery.tokens import nonce_new, token_derive, token_hash, token_recover

MAX_ITEMS = 100
NOTE_MAX_CHARS = 200
PASSWORD_MIN_CHARS = 6
SESSION_MAX_LINKS = 50


class ShareError(ApplicationError):
    """A link a person asked for and cannot have; the message is for them."""


class PasswordRateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong passwords; retry after {retry_after}s")
        self.retry_after = retry_after


def share_url(token: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/s/{token}/"


@dataclass(frozen=True)
class CreatedLink:
    link: ShareLink
    token: str  # never stored: derived again from the nonce when the address is shown

    @property
    def url(self) -> str:
        return share_url(self.token)


TOKEN_PURPOSE = "share-link"  # noqa: S105 (an HMAC salt, not a secret)
EDITABLE = frozenset({"expires_in_days", "password", "allow_download", "show_metadata", "note"})


def share_link_address(link: ShareLink) -> str | None:
    """The link's address, derived again from its nonce and the server's key; None for a link
    made before addresses were derived (or whose key is gone): it works, but cannot be shown."""
    token = token_recover(link.token_nonce, link.token_hash, purpose=TOKEN_PURPOSE)
    return share_url(token) if token else None


def _expires_at(team: Team, expires_in_days: int | None) -> datetime | None:
    """When a link made or changed now should expire, under the team's limits."""
    _, maximum = expiry_limits(team)
    if expires_in_days is None and maximum is not None:
        raise ShareError(
            f"Links in {team.name} must expire within {maximum} days.", field="expires_in_days"
        )
    if expires_in_days is not None and expires_in_days < 1:
        raise ShareError("Expiry must be at least one day.", field="expires_in_days")
    if expires_in_days is not None and maximum is not None and expires_in_days > maximum:
        raise ShareError(
            f"Links in {team.name} can last at most {maximum} days.", field="expires_in_days"
        )
    return timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None


def _password_hash(password: str) -> str:
    if password and len(password) < PASSWORD_MIN_CHARS:
        raise ShareError(
            f"Use a password of at least {PASSWORD_MIN_CHARS} characters, or none.",
            field="password",
        )
    return make_password(password) if password else ""


def _clean_note(note: str) -> str:
    note = note.strip()
    if len(note) > NOTE_MAX_CHARS:
        raise ShareError(f"Keep the note under {NOTE_MAX_CHARS} characters.", field="note")
    return note


@transaction.atomic
def share_link_create(
    *,
    membership: Membership,
    images: Sequence[GalleryImage],
    expires_in_days: int | None,
    password: str = "",
    allow_download: bool = True,
    show_metadata: bool = False,
    note: str = "",
) -> CreatedLink:
    """Make a link to ``images`` (already access-checked for ``membership``)."""
    team = membership.team
    if not membership.can_generate:
        raise ShareError("Viewers cannot share images.")
    unique: dict[int, GalleryImage] = {}
    for image in images:
        if image.team_id != team.pk:
            raise ShareError("Only this team's images can be shared.", field="images")
        unique.setdefault(image.pk, image)
    chosen = list(unique.values())
    if not chosen:
        raise ShareError("Choose at least one image to share.", field="images")
    if len(chosen) > MAX_ITEMS:
        raise ShareError(f"A link can hold at most {MAX_ITEMS} images.", field="images")
    blocked = unshareable_images(team, chosen)
    if blocked:
        count = len(blocked)
        raise ShareError(
            f"{team.name} only shares approved images, and {count} of the chosen "
            f"{'image is' if count == 1 else 'images are'} not approved yet.",
            field="images",
        )
    expires_at = _expires_at(team, expires_in_days)
    password_hash = _password_hash(password)
    note = _clean_note(note)

    nonce = nonce_new()
    token = token_derive(nonce, purpose=TOKEN_PURPOSE)
    link = ShareLink(
        team=team,
        created_by=membership.user,
        token_hash=token_hash(token),
        token_nonce=nonce,
        note=note,
        expires_at=expires_at,
        password_hash=password_hash,
        allow_download=allow_download,
        show_metadata=show_metadata,
    )
    link.full_clean()
    link.save()
    ShareLinkItem.objects.bulk_create(
        ShareLinkItem(link=link, image=image, position=position)
        for position, image in enumerate(chosen, start=1)
    )
    return CreatedLink(link=link, token=token)


@transaction.atomic
def share_link_update(*, link: ShareLink, actor: Membership, **changes: Any) -> ShareLink:
    """Change a link after it was made: ``expires_in_days`` (counted from now; None: never),
    ``password`` ("" removes it), ``allow_download``, ``show_metadata``, ``note``. Keys left
    out stay as they are. The address does not change; a revoked link cannot be changed."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise TypeError(f"share_link_update: unknown fields {sorted(unknown)}")
    if not may_manage_link(actor, link):
        raise ShareError("Only members who can share may change this link.")
    locked = ShareLink.objects.select_for_update().select_related("team").get(pk=link.pk)
    if locked.revoked_at is not None:
        raise ShareError("This link was revoked; make a new one instead.")
    if "expires_in_days" in changes:
        locked.expires_at = _expires_at(locked.team, changes["expires_in_days"])
    if "password" in changes:
        locked.password_hash = _password_hash(changes["password"])
    if "note" in changes:
        locked.note = _clean_note(changes["note"])
    for flag in ("allow_download", "show_metadata"):
        if flag in changes:
            setattr(locked, flag, bool(changes[flag]))
    locked.full_clean()
    locked.save(
        update_fields=["expires_at", "password_hash", "note", "allow_download", "show_metadata"]
    )
    return locked


@transaction.atomic
def share_link_revoke(*, link: ShareLink, user: User) -> bool:
    """Revoke ``link`` (idempotent); returns False if it was already revoked."""
    changed = ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=user
    )
    link.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return bool(changed)


def link_count_view(link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk).update(
        view_count=F("view_count") + 1, last_accessed_at=timezone.now()
    )


def link_count_download(link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk).update(
        download_count=F("download_count") + 1, last_accessed_at=timezone.now()
    )


def _remember_unlock(request: HttpRequest, link: ShareLink) -> None:
    unlocked = [
        key for key in request.session.get(UNLOCKED_SESSION_KEY, []) if key != str(link.public_id)
    ]
    unlocked.append(str(link.public_id))
    request.session[UNLOCKED_SESSION_KEY] = unlocked[-SESSION_MAX_LINKS:]
    request.session.cycle_key()  # a fresh session id once it grants something


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind a proxy (SECURE_PROXY_SSL_HEADER set) the last entry of
    X-Forwarded-For, the one our own proxy appended; a client can forge the earlier ones."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return str(request.META.get("REMOTE_ADDR", "unknown"))


@dataclass(frozen=True)
class PasswordLimits:
    window: int  # seconds
    per_link_and_client: int
    per_link: int
    per_client: int


def password_limits() -> PasswordLimits:
    return PasswordLimits(
        window=settings.SHARE_PASSWORD_WINDOW_SECONDS,
        per_link_and_client=settings.SHARE_PASSWORD_ATTEMPTS,
        per_link=settings.SHARE_PASSWORD_ATTEMPTS_PER_LINK,
        per_client=settings.SHARE_PASSWORD_ATTEMPTS_PER_CLIENT,
    )


def _failure_keys(link: ShareLink, ip: str) -> list[tuple[str, int]]:
    limits = password_limits()
    ip_key = hashlib.sha256(ip.encode()).hexdigest()[:32]
    return [
        (f"share-pw:{link.pk}:{ip_key}", limits.per_link_and_client),
        (f"share-pw:{link.pk}", limits.per_link),
        (f"share-pw:ip:{ip_key}", limits.per_client),
    ]


def password_check(request: HttpRequest, link: ShareLink, password: str) -> bool:
    """Check a password for ``link``; on success remember it in the session.

    Failed attempts are counted in the shared cache per link and client, per link and per
    client, over a fixed window. Past any limit the password is not even checked:
    ``PasswordRateLimited`` says how long to wait.
    """
    limits = password_limits()
    keys = _failure_keys(link, client_ip(request))
    counts = cache.get_many([key for key, _ in keys])
    if any(counts.get(key, 0) >= limit for key, limit in keys):
        raise PasswordRateLimited(limits.window)
    if link.password_hash and check_password(password, link.password_hash):
        _remember_unlock(request, link)
        return True
    for key, _ in keys:
        cache.add(key, 0, timeout=limits.window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=limits.window)
    return False
