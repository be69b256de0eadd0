"""Account reads: how long a login lockout has left to run."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone


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
