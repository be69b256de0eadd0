"""Shared links: creating and revoking them, and counting their use (passwords and their
throttle are in ``passwords``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gallery.accounts.models import User
from gallery.api import webhooks
from gallery.api.models import WebhookEvent
from gallery.collection.models import Collection
from gallery.errors import ApplicationError
from gallery.generation.models import GalleryImage
from gallery.sharing import linkstate
from gallery.sharing.access import link_can_manage
from gallery.sharing.models import ShareLink, ShareLinkItem
from gallery.sharing.selectors import EXPIRY_MAX_DAYS, expiry_limits, unshareable_images
from gallery.team.models import Membership, Team
from gallery.tokens import nonce_new, token_derive, token_hash, token_recover

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
    token: str  # never stored: derived again from the nonce when the address is shown

    @property
    def url(self) -> str:
        return share_url(self.token)


TOKEN_PURPOSE = "share-link"  # noqa: S105 (an HMAC salt, not a secret)
EDITABLE = frozenset(
    {"expires_in_days", "password", "allow_download", "show_metadata", "note", "proofing"}
)


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
    longest = EXPIRY_MAX_DAYS if maximum is None else maximum
    if expires_in_days is not None and expires_in_days > longest:
        raise ShareError(
            f"Links in {team.name} can last at most {longest} days.", field="expires_in_days"
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
    proofing: bool = False,
    collection: Collection | None = None,
    follows_collection: bool = False,
) -> CreatedLink:
    """Make a link to ``images`` (already access-checked for ``membership``). From a
    collection, ``images`` are its images now: the link keeps them (frozen), or with
    ``follows_collection`` shows whatever the collection holds at each visit."""
    team = membership.team
    if not membership.can_generate:
        raise ShareError("Viewers cannot share images.")
    if collection is not None and collection.team_id != team.pk:
        raise ShareError("Only this team's collections can be shared.")
    if follows_collection and collection is None:
        raise ShareError("Only a link made from a collection can follow it.")
    unique: dict[int, GalleryImage] = {}
    for image in images:
        if image.team_id != team.pk:
            raise ShareError("Only this team's images can be shared.", field="images")
        unique.setdefault(image.pk, image)
    chosen = list(unique.values())
    if not chosen and not follows_collection:
        raise ShareError("Choose at least one image to share.", field="images")
    if len(chosen) > MAX_ITEMS and not follows_collection:
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
        proofing=proofing,
        collection=collection,
        follows_collection=follows_collection,
    )
    link.full_clean()
    link.save()
    if not follows_collection:
        ShareLinkItem.objects.bulk_create(
            ShareLinkItem(link=link, image=image, position=position)
            for position, image in enumerate(chosen, start=1)
        )
    webhooks.share_link_event(link, WebhookEvent.SHARE_LINK_CREATED)
    return CreatedLink(link=link, token=token)


@transaction.atomic
def share_link_update(*, link: ShareLink, actor: Membership, **changes: Any) -> ShareLink:
    """Change a link after it was made: ``expires_in_days`` (counted from now; None: never),
    ``password`` ("" removes it), ``allow_download``, ``show_metadata``, ``note``. Keys left
    out stay as they are. The address does not change; a revoked link cannot be changed."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise TypeError(f"share_link_update: unknown fields {sorted(unknown)}")
    if not link_can_manage(actor, link):
        raise ShareError("Only the person who made this link, or a team admin, can change it.")
    locked = ShareLink.objects.select_for_update().select_related("team").get(pk=link.pk)
    if locked.revoked_at is not None:
        raise ShareError("This link was revoked; make a new one instead.")
    if "expires_in_days" in changes:
        locked.expires_at = _expires_at(locked.team, changes["expires_in_days"])
    if "password" in changes:
        locked.password_hash = _password_hash(changes["password"])
    if "note" in changes:
        locked.note = _clean_note(changes["note"])
    for flag in ("allow_download", "show_metadata", "proofing"):
        if flag in changes:
            setattr(locked, flag, bool(changes[flag]))
    locked.full_clean()
    locked.save(
        update_fields=[
            "expires_at",
            "password_hash",
            "note",
            "allow_download",
            "show_metadata",
            "proofing",
        ]
    )
    return locked


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
    linkstate.publish(link)  # an update() sends no post_save: its media go now
    if changed:
        webhooks.share_link_event(link, WebhookEvent.SHARE_LINK_REVOKED)
    return bool(changed)


def link_count_view(link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk).update(
        view_count=F("view_count") + 1, last_accessed_at=timezone.now()
    )


def link_count_download(link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk).update(
        download_count=F("download_count") + 1, last_accessed_at=timezone.now()
    )
