"""Shared links: creating and revoking them, resolving a presented token, password checks with
rate limits, and serving a link's media.

Tokens are ``secrets.token_urlsafe(32)`` (256 bits). Only their SHA-256 is stored; a presented
token is hashed, looked up by that hash and compared again with ``hmac.compare_digest``. Every
request under a link (its page and each media file) resolves the link afresh, so a revoked or
expired link stops working on the very next request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import FileResponse, Http404, HttpRequest
from django.utils import timezone

from gallery.models import GalleryImage, Membership, ShareLink, ShareLinkItem, Team, User
from gallery.selectors import _uuid

TOKEN_BYTES = 32
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of 32 bytes, unpadded
MAX_ITEMS = 100
NOTE_MAX_CHARS = 200
PASSWORD_MIN_CHARS = 6
SESSION_KEY = "share_unlocked"
SESSION_MAX_LINKS = 50

# Media responses: the browser must treat them as nothing but the image they claim to be.
MEDIA_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
# The public page: our stylesheet, our images, a form posting to ourselves, and nothing else.
PAGE_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

type Variant = Literal["thumb", "preview", "download"]
VARIANTS: tuple[Variant, ...] = ("thumb", "preview", "download")
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class ShareError(Exception):
    """A link a person asked for and cannot have; the message is for them."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LinkGone(Exception):
    """The token names a link that was revoked or has expired: answer 410, not 404."""

    def __init__(self, link: ShareLink) -> None:
        super().__init__(f"link {link.pk} is {link.state}")
        self.link = link


class PasswordRateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong passwords; retry after {retry_after}s")
        self.retry_after = retry_after


# -- tokens --------------------------------------------------------------------------------------


def token_new() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def share_url(token: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/s/{token}/"


# -- writes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedLink:
    link: ShareLink
    token: str  # shown once, never stored

    @property
    def url(self) -> str:
        return share_url(self.token)


def expiry_limits(team: Team) -> tuple[int | None, int | None]:
    """(default days, maximum days) for the team; None means "never expires" / "no maximum"."""
    maximum = team.share_max_expiry_days or None
    default = team.share_default_expiry_days or None
    if maximum is not None and (default is None or default > maximum):
        default = maximum
    return default, maximum


def unshareable_images(team: Team, images: Sequence[GalleryImage]) -> list[GalleryImage]:
    """The images the team's policy keeps out of links (unapproved, when approval is required)."""
    if not team.share_requires_approval:
        return []
    return [image for image in images if image.review_state != GalleryImage.ReviewState.APPROVED]


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
    if password and len(password) < PASSWORD_MIN_CHARS:
        raise ShareError(
            f"Use a password of at least {PASSWORD_MIN_CHARS} characters, or none.",
            field="password",
        )
    note = note.strip()
    if len(note) > NOTE_MAX_CHARS:
        raise ShareError(f"Keep the note under {NOTE_MAX_CHARS} characters.", field="note")

    token = token_new()
    link = ShareLink(
        team=team,
        created_by=membership.user,
        token_hash=token_hash(token),
        note=note,
        expires_at=(timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None),
        password_hash=make_password(password) if password else "",
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
def share_link_revoke(*, link: ShareLink, user: User) -> bool:
    """Revoke ``link`` (idempotent); returns False if it was already revoked."""
    changed = ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=user
    )
    link.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return bool(changed)


@transaction.atomic
def team_policy_update(
    *,
    membership: Membership,
    pending_visible_to_team: bool,
    share_requires_approval: bool,
    share_default_expiry_days: int,
    share_max_expiry_days: int,
) -> Team:
    """Owners and admins set the team's review and sharing policy (0 days = no limit)."""
    if not membership.can_manage:
        raise ShareError("Only team owners and admins can change these settings.")
    if share_max_expiry_days and not share_default_expiry_days:
        raise ShareError(
            "With a maximum set, links need a default expiry too.",
            field="share_default_expiry_days",
        )
    if share_max_expiry_days and share_default_expiry_days > share_max_expiry_days:
        raise ShareError(
            "The default expiry cannot be longer than the maximum.",
            field="share_default_expiry_days",
        )
    team = Team.objects.select_for_update().get(pk=membership.team_id)
    team.pending_visible_to_team = pending_visible_to_team
    team.share_requires_approval = share_requires_approval
    team.share_default_expiry_days = share_default_expiry_days
    team.share_max_expiry_days = share_max_expiry_days
    team.full_clean()
    team.save()
    return team


# -- reads ---------------------------------------------------------------------------------------


def links_for(membership: Membership) -> QuerySet[ShareLink]:
    return ShareLink.objects.filter(team_id=membership.team_id).select_related(
        "created_by", "revoked_by"
    )


def access_link(membership: Membership, public_id: object) -> ShareLink:
    link = links_for(membership).filter(public_id=_uuid(public_id)).first()
    if link is None:
        raise Http404("No such link.")
    return link


def link_resolve(token: str) -> ShareLink:
    """The link a presented token names: Http404 if none, LinkGone if revoked or expired."""
    if not TOKEN_RE.match(token):
        raise Http404("No such link.")
    digest = token_hash(token)
    link = ShareLink.objects.select_related("team").filter(token_hash=digest).first()
    # The lookup is by the hash of a 256-bit secret; the second comparison is constant-time
    # all the same, so no code path compares secrets with ``==``.
    if link is None or not hmac.compare_digest(link.token_hash, digest):
        raise Http404("No such link.")
    if not link.is_active:
        raise LinkGone(link)
    return link


def link_images(link: ShareLink) -> list[GalleryImage]:
    """What the link shows now: its images in order, less any the team's policy withholds
    (an image rejected or flagged after it was shared, when only approved images may be)."""
    images = (
        GalleryImage.objects.filter(share_link_items__link=link)
        .select_related("generation__request")
        .prefetch_related("thumbnails")
        .order_by("share_link_items__position")
    )
    if link.team.share_requires_approval:
        images = images.filter(review_state=GalleryImage.ReviewState.APPROVED)
    return list(images)


def link_image(link: ShareLink, public_id: object) -> GalleryImage:
    """One image of the link, under the same rules as ``link_images``; 404 otherwise."""
    images = GalleryImage.objects.filter(share_link_items__link=link, public_id=_uuid(public_id))
    if link.team.share_requires_approval:
        images = images.filter(review_state=GalleryImage.ReviewState.APPROVED)
    image = images.prefetch_related("thumbnails").first()
    if image is None:
        raise Http404("No such image in this link.")
    return image


def link_count_view(link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk).update(
        view_count=F("view_count") + 1, last_accessed_at=timezone.now()
    )


def link_count_download(link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk).update(
        download_count=F("download_count") + 1, last_accessed_at=timezone.now()
    )


# -- passwords -----------------------------------------------------------------------------------


def is_unlocked(request: HttpRequest, link: ShareLink) -> bool:
    if not link.password_hash:
        return True
    return str(link.public_id) in request.session.get(SESSION_KEY, [])


def _remember_unlock(request: HttpRequest, link: ShareLink) -> None:
    unlocked = [key for key in request.session.get(SESSION_KEY, []) if key != str(link.public_id)]
    unlocked.append(str(link.public_id))
    request.session[SESSION_KEY] = unlocked[-SESSION_MAX_LINKS:]
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


# -- media ---------------------------------------------------------------------------------------


def image_file(image: GalleryImage, variant: Variant) -> tuple[str, str]:
    """(storage name, content type) of one variant of an image.

    thumb: the smallest thumbnail; preview: the largest; download: the original. Uses the
    image's prefetched thumbnails when there are any.
    """
    if variant == "download":
        return image.file.name or "", MIME_TYPES[image.format]
    thumbnails = sorted(image.thumbnails.all(), key=lambda thumb: thumb.width)
    if not thumbnails:
        return image.file.name or "", MIME_TYPES[image.format]
    chosen = thumbnails[0] if variant == "thumb" else thumbnails[-1]
    return chosen.file.name or "", "image/webp"


def file_response(
    name: str,
    content_type: str,
    *,
    download_as: str = "",
    cache_control: str = "private, no-store",
) -> FileResponse:
    """Serve a stored media file with strict headers; the caller has done every access check.

    Content-Type comes from what we stored, never from the file name; originals are
    attachments. ``no-store`` by default so that nothing cached outlives a revoked link.
    """
    try:
        handle = storages["default"].open(name, "rb")
    except OSError:
        raise Http404("The file is missing.") from None
    response = FileResponse(
        handle, content_type=content_type, as_attachment=bool(download_as), filename=download_as
    )
    if not download_as:
        response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cache-Control"] = cache_control
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Referrer-Policy"] = "no-referrer"
    return response


def media_response(
    image: GalleryImage, variant: Variant, *, cache_control: str = "private, no-store"
) -> FileResponse:
    """One variant of an image (see ``image_file``) through ``file_response``."""
    name, content_type = image_file(image, variant)
    download_as = f"seedream-{image.public_id}.{image.extension}" if variant == "download" else ""
    return file_response(name, content_type, download_as=download_as, cache_control=cache_control)
