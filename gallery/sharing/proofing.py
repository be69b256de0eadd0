"""Proofing on a shared link: visitors without an account give a name once, then pick images
(a heart) and comment on them; the link's author gets one digest email per burst of that
activity. Every action is refused on a link that is revoked, expired or not proofing, and is
limited in size and in rate (per visitor, and per link)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from gallery import tasks
from gallery.errors import ApplicationError
from gallery.generation.models import GalleryImage
from gallery.sharing.models import ProofingComment, ProofingPick, ProofingVisitor, ShareLink
from gallery.tasks import capped_delay

logger = logging.getLogger(__name__)

NAME_MAX_CHARS = 60
COMMENT_MAX_CHARS = 1000
COMMENTS_PER_VISITOR = 200  # on one link
VISITORS_PER_CLIENT_HOUR = 10  # names given from one address to one link, per hour
ACTIONS_PER_VISITOR_MINUTE = 30
ACTIONS_PER_LINK_HOUR = 1000


class ProofingError(ApplicationError):
    """A proofing action that cannot be taken; the message is for the visitor."""


class ProofingRateLimited(ProofingError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _refuse_unless_open(link: ShareLink) -> None:
    if not link.is_active:
        raise ProofingError("This link no longer works, so nothing more can be sent through it.")
    if not link.proofing:
        raise ProofingError("This link does not take picks or comments.")


def _count(key: str, limit: int, seconds: int, message: str) -> None:
    """One more in a fixed window of ``seconds``; refused past ``limit``."""
    cache.add(key, 0, timeout=seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        count = 1
    if count > limit:
        raise ProofingRateLimited(message, retry_after=seconds)


def _throttle(link: ShareLink, visitor: ProofingVisitor) -> None:
    _count(
        f"proofing:visitor:{visitor.pk}",
        ACTIONS_PER_VISITOR_MINUTE,
        60,
        "That was a lot of clicks at once. Wait a minute, then carry on.",
    )
    _count(
        f"proofing:link:{link.pk}",
        ACTIONS_PER_LINK_HOUR,
        3600,
        "This link has taken a lot of picks and comments this hour. Try again later.",
    )


def _plain(text: str, keep: str = "") -> str:
    """``text`` without control characters (NUL included, which PostgreSQL refuses), but for
    those in ``keep``."""
    return "".join(ch for ch in text if ch.isprintable() or ch in keep)


def _clean_name(name: str) -> str:
    name = " ".join(_plain(name, keep=" \t").split())
    if not name:
        raise ProofingError("Give your name, so the team knows whose picks these are.", "name")
    if len(name) > NAME_MAX_CHARS:
        raise ProofingError(f"Keep your name under {NAME_MAX_CHARS} characters.", "name")
    return name


@transaction.atomic
def proofing_visitor_create(*, link: ShareLink, name: str, client: str | None) -> ProofingVisitor:
    """A visitor of ``link`` known by ``name`` (their browser keeps the returned key)."""
    _refuse_unless_open(link)
    name = _clean_name(name)
    _count(
        f"proofing:names:{link.pk}:{client or '-'}",
        VISITORS_PER_CLIENT_HOUR,
        3600,
        "Too many names were given from here. Try again in an hour.",
    )
    visitor = ProofingVisitor(link=link, name=name)
    visitor.full_clean()
    visitor.save()
    return visitor


@transaction.atomic
def proofing_pick_set(
    *, link: ShareLink, visitor: ProofingVisitor, image: GalleryImage, on: bool
) -> bool:
    """Heart (``on``) or un-heart ``image`` (an image of the link) for ``visitor``; returns
    whether it is picked now."""
    _refuse_unless_open(link)
    if visitor.link_id != link.pk:
        raise ProofingError("Give your name on this link first.")
    _throttle(link, visitor)
    if not on:
        ProofingPick.objects.filter(visitor=visitor, image=image).delete()
        return False
    try:
        with transaction.atomic():
            _, created = ProofingPick.objects.get_or_create(
                visitor=visitor, image=image, defaults={"link": link}
            )
    except IntegrityError:  # a double click raced itself: it is picked either way
        created = False
    if created:
        _activity(link)
    return True


@transaction.atomic
def proofing_comment_add(
    *, link: ShareLink, visitor: ProofingVisitor, image: GalleryImage, body: str
) -> ProofingComment:
    """A plain-text comment by ``visitor`` on ``image`` (an image of the link)."""
    _refuse_unless_open(link)
    if visitor.link_id != link.pk:
        raise ProofingError("Give your name on this link first.")
    body = _plain(body.replace("\r\n", "\n"), keep="\n\t").strip()
    if not body:
        raise ProofingError("Write something first.", "body")
    if len(body) > COMMENT_MAX_CHARS:
        raise ProofingError(f"Keep a comment under {COMMENT_MAX_CHARS} characters.", "body")
    if ProofingComment.objects.filter(visitor=visitor).count() >= COMMENTS_PER_VISITOR:
        raise ProofingError(f"One person can leave at most {COMMENTS_PER_VISITOR} comments here.")
    _throttle(link, visitor)
    comment = ProofingComment(link=link, visitor=visitor, image=image, body=body)
    comment.full_clean()
    comment.save()
    _activity(link)
    return comment


# -- the digest ----------------------------------------------------------------------------------
#
# The first pick or comment after a quiet spell sets a marker in the cache and queues one
# digest task with a countdown of PROOFING_DIGEST_DELAY; activity while the marker stands
# queues nothing more. The task clears the marker and mails everything since the link's
# ``proofing_notified_at`` (the database says what was already sent, so a lost marker or a
# second run never mails the same activity twice).


def _marker(link_id: int) -> str:
    return f"proofing:digest:{link_id}"


def _activity(link: ShareLink) -> None:
    delay = settings.PROOFING_DIGEST_DELAY
    link_id = link.pk

    def queue() -> None:
        # The marker outlives the countdown a little, in case the worker is late.
        if cache.add(_marker(link_id), 1, timeout=delay * 2 + 60):
            tasks.proofing_digest.apply_async((link_id,), countdown=capped_delay(delay))

    transaction.on_commit(queue)


def proofing_digest_send(*, link_id: int) -> bool:
    """Mail the link's author what visitors did since the last digest; False when there is
    nothing new or no one to tell."""
    cache.delete(_marker(link_id))
    with transaction.atomic():
        link = (
            ShareLink.objects.select_for_update(of=("self",))
            .select_related("created_by", "team")
            .filter(pk=link_id)
            .first()
        )
        if link is None:
            return False
        since = link.proofing_notified_at or link.created_at
        picks = list(
            ProofingPick.objects.filter(link=link, created_at__gt=since)
            .select_related("visitor", "image__generation__request")
            .order_by("created_at", "id")
        )
        comments = list(
            ProofingComment.objects.filter(link=link, created_at__gt=since)
            .select_related("visitor", "image__generation__request")
            .order_by("created_at", "id")
        )
        if not picks and not comments:
            return False
        latest: datetime = max(
            [pick.created_at for pick in picks] + [comment.created_at for comment in comments]
        )
        link.proofing_notified_at = latest
        link.save(update_fields=["proofing_notified_at"])
        author = link.created_by
        if author is None or not author.email:
            logger.info("proofing digest for link %s: its author has no email address", link.pk)
            return False
        send_mail(
            _digest_subject(link, picks, comments),
            _digest_body(link, picks, comments),
            None,
            [author.email],
        )
    return True


def _digest_subject(
    link: ShareLink, picks: list[ProofingPick], comments: list[ProofingComment]
) -> str:
    parts = []
    if picks:
        parts.append(f"{len(picks)} pick{'s' if len(picks) != 1 else ''}")
    if comments:
        parts.append(f"{len(comments)} comment{'s' if len(comments) != 1 else ''}")
    return f"{' and '.join(parts)} on “{link}”"


def _digest_body(
    link: ShareLink, picks: list[ProofingPick], comments: list[ProofingComment]
) -> str:
    """Plain text (never HTML): names and comments go out exactly as typed."""
    base = settings.SITE_URL.rstrip("/")

    def item(image: GalleryImage) -> str:
        prompt = image.generation.request.prompt
        short = prompt if len(prompt) <= 60 else prompt[:59] + "…"
        url = base + reverse("gallery-detail", args=[image.generation.public_id])
        return f"“{short}” {url}"

    lines = [f"New feedback on the shared link “{link}” ({link.team.name}).", ""]
    if picks:
        lines.append("Picked:")
        lines += [f"- {pick.visitor.name} picked {item(pick.image)}" for pick in picks]
        lines.append("")
    if comments:
        lines.append("Comments:")
        for comment in comments:
            lines.append(f"- {comment.visitor.name} on {item(comment.image)}:")
            lines += [f"    {line}" for line in comment.body.splitlines()]
        lines.append("")
    lines.append(f"All picks and comments: {base}{reverse('share-link', args=[link.public_id])}")
    return "\n".join(lines)
