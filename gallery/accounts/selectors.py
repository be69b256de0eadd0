"""Account reads: the username a login attempt is counted under, and how long a lockout has
left to run."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from django.contrib.auth import get_user_model
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone


def login_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The username axes counts a login attempt under (``AXES_USERNAME_CALLABLE``): what was
    typed, cut to the longest username an account can have, so that a very long one is an
    ordinary failed login rather than a value too long for axes' own table (a 500)."""
    typed = (credentials or {}).get("username", request.POST.get("username"))
    if not isinstance(typed, str):
        return None
    longest = get_user_model()._meta.get_field("username").max_length or 150
    return typed[:longest]


def login_lockout_seconds(request: HttpRequest, credentials: dict[str, Any] | None) -> int:
    """Seconds until the failures that lock this login (its username or its address) are out
    of the window: at most the whole cool-off, at least one."""
    cool_off: timedelta | None = get_cool_off(request)
    if cool_off is None:
        return 0
    latest: datetime | None = None
    for attempts in AxesDatabaseHandler().get_user_attempts(request, credentials):
        last = attempts.aggregate(last=Max("attempt_time"))["last"]
        if last is not None and (latest is None or last > latest):
            latest = last
    if latest is None:
        return math.ceil(cool_off.total_seconds())
    remaining = (latest + cool_off - timezone.now()).total_seconds()
    return max(1, math.ceil(remaining))
