"""Passwords of shared links, and the throttle that keeps them from being guessed without
letting a guesser lock the right password out for everyone.

Failed attempts are counted in the shared cache over a fixed window, three ways:

- per link and client (``SHARE_PASSWORD_ATTEMPTS``) and per client across links
  (``SHARE_PASSWORD_ATTEMPTS_PER_CLIENT``): past either, that client is refused (429 with
  Retry-After) without the password even being checked. Nobody else is affected.
- per link, from everyone (``SHARE_PASSWORD_SLOW_AFTER``, far above the per-client limit):
  past it the link is under attack, and it *slows down* rather than locks. Every try must come
  from a password form shown at least a few seconds earlier (the form carries a signed
  "waited since" ticket), and the wait grows with the failures, up to
  ``SHARE_PASSWORD_MAX_WAIT_SECONDS``. A visitor who has the password waits a few seconds and
  gets in; a guesser gets a few tries per client per window, each one a wait.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest

from gallery.http import client_ip
from gallery.sharing.access import UNLOCKED_SESSION_KEY
from gallery.sharing.models import ShareLink

SESSION_MAX_LINKS = 50
_TICKET_SALT = "gallery.sharing.password-wait"


class PasswordRateLimited(Exception):
    """Not checked: this client must wait ``retry_after`` seconds. ``slowed`` says why: the
    link is being guessed at (every try waits), rather than this client having tried too often."""

    def __init__(self, retry_after: int, *, slowed: bool = False) -> None:
        super().__init__(f"password not checked; retry after {retry_after}s")
        self.retry_after = retry_after
        self.slowed = slowed


@dataclass(frozen=True)
class PasswordLimits:
    window: int  # seconds
    per_link_and_client: int
    per_client: int
    slow_after: int  # failures on one link, from anyone, before every try must wait
    max_wait: int  # seconds


def password_limits() -> PasswordLimits:
    return PasswordLimits(
        window=settings.SHARE_PASSWORD_WINDOW_SECONDS,
        per_link_and_client=settings.SHARE_PASSWORD_ATTEMPTS,
        per_client=settings.SHARE_PASSWORD_ATTEMPTS_PER_CLIENT,
        slow_after=settings.SHARE_PASSWORD_SLOW_AFTER,
        max_wait=settings.SHARE_PASSWORD_MAX_WAIT_SECONDS,
    )


def _client_key(request: HttpRequest) -> str:
    return hashlib.sha256((client_ip(request) or "unknown").encode()).hexdigest()[:32]


def _keys(link: ShareLink, client: str) -> tuple[str, str, str]:
    """(per link and client, per client, per link) counter keys."""
    return f"share-pw:{link.pk}:{client}", f"share-pw:ip:{client}", f"share-pw:{link.pk}"


def link_wait_seconds(failures: int, limits: PasswordLimits) -> int:
    """How long each try on a link must wait after its form was shown: nothing below
    ``slow_after`` failures, then 2 s, doubling every further ``slow_after / 2``, capped."""
    if failures < limits.slow_after:
        return 0
    steps = (failures - limits.slow_after) // max(1, limits.slow_after // 2)
    return int(min(limits.max_wait, 2 * 2**steps))


@dataclass(frozen=True)
class PasswordForm:
    """What the password form needs: its "waited since" ticket and the wait now in force."""

    ticket: str
    wait_seconds: int


def password_form(request: HttpRequest, link: ShareLink, ticket: str = "") -> PasswordForm:
    """The form's state: ``ticket`` kept if it is still good (so a visitor told to wait keeps
    the time already waited), else a fresh one."""
    limits = password_limits()
    client = _client_key(request)
    if _ticket_age(ticket, link, client, limits) is None:
        ticket = signing.TimestampSigner(salt=_TICKET_SALT).sign(f"{link.pk}:{client}")
    failures = cache.get(_keys(link, client)[2], 0)
    return PasswordForm(ticket=ticket, wait_seconds=link_wait_seconds(failures, limits))


def _ticket_age(ticket: str, link: ShareLink, client: str, limits: PasswordLimits) -> float | None:
    """Seconds since the ticket was issued to this client for this link; None if it was not."""
    if not ticket:
        return None
    signer = signing.TimestampSigner(salt=_TICKET_SALT)
    try:
        value = signer.unsign(ticket, max_age=limits.window)
    except signing.BadSignature:
        return None
    if value != f"{link.pk}:{client}":
        return None
    issued = signing.b62_decode(ticket.rsplit(signer.sep, 2)[1])
    return max(0.0, time.time() - issued)


def password_check(request: HttpRequest, link: ShareLink, password: str, ticket: str = "") -> bool:
    """Check a password for ``link``; on success remember it in the session.

    Raises ``PasswordRateLimited`` without checking when this client is over its limits, or
    when the link is being guessed at and ``ticket`` (from the form) is younger than the wait.
    A refused try is not counted as a failure.
    """
    limits = password_limits()
    client = _client_key(request)
    per_link_and_client, per_client, per_link = _keys(link, client)
    counts = cache.get_many([per_link_and_client, per_client, per_link])
    if (
        counts.get(per_link_and_client, 0) >= limits.per_link_and_client
        or counts.get(per_client, 0) >= limits.per_client
    ):
        raise PasswordRateLimited(limits.window)
    wait = link_wait_seconds(counts.get(per_link, 0), limits)
    if wait:
        age = _ticket_age(ticket, link, client, limits)
        if age is None or age < wait:
            raise PasswordRateLimited(math.ceil(wait - (age or 0)), slowed=True)
    if link.password_hash and check_password(password, link.password_hash):
        _remember_unlock(request, link)
        return True
    for key in (per_link_and_client, per_client, per_link):
        cache.add(key, 0, timeout=limits.window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=limits.window)
    return False


def _remember_unlock(request: HttpRequest, link: ShareLink) -> None:
    unlocked = [
        key for key in request.session.get(UNLOCKED_SESSION_KEY, []) if key != str(link.public_id)
    ]
    unlocked.append(str(link.public_id))
    request.session[UNLOCKED_SESSION_KEY] = unlocked[-SESSION_MAX_LINKS:]
    request.session.cycle_key()  # a fresh session id once it grants something
