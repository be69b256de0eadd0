"""Shared links: creating and revoking them, and counting their use (passwords and their
throttle are in ``passwords``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gallery.accounts.models import User
from gallery.errors import ApplicationError
from gallery.generation.models import GalleryImage
from gallery.sharing.access import link_can_manage
from gallery.sharing.models import ShareLink, ShareLinkItem
from gallery.sharing.selectors import EXPIRY_MAX_DAYS, expiry_limits, unshareable_images
from gallery.team.models import Membership
from gallery.tokens import token_hash, token_new

MAX_ITEMS = 100
NOTE_MAX_CHARS = 200
PASSWORD_MIN_CHARS = 6


class ShareError(ApplicationError):
    """A link a person asked for and cannot have; the message is for them."""


def share_url(token: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/s/{token}/"


@dataclass(frozen=True)
class CreatedLink:
    link: ShareLink
    token: str  # shown once, never stored

    @property
    def url(self) -> str:
        return share_url(self.token)


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
    longest = EXPIRY_MAX_DAYS if maximum is None else maximum
    if expires_in_days is not None and expires_in_days > longest:
        raise ShareError(
            f"Links in {team.name} can last at most {longest} days.", field="expires_in_days"
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
def share_link_revoke(*, link: ShareLink, membership: Membership) -> bool:
    """Revoke ``link`` as a member of its team (idempotent); returns False if it was already
    revoked. Only those ``link_can_manage`` allows may: its author, the team's owners and
    admins, and staff reviewers."""
    if not link_can_manage(membership, link):
        raise ShareError("Only the person who made this link, or a team admin, can revoke it.")
    return _revoke(link, membership.user)


@transaction.atomic
def share_link_moderate(*, link: ShareLink, reviewer: User) -> bool:
    """Revoke ``link`` as a staff reviewer from the admin (which shows staff only the links of
    the teams they review); returns False if it was already revoked."""
    if not (reviewer.is_active and reviewer.is_staff):
        raise ShareError("Only staff reviewers can revoke links from the admin.")
    return _revoke(link, reviewer)


def _revoke(link: ShareLink, user: User) -> bool:
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
