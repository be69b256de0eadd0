"""``manage.py oxen_reconcile [--since 7d]``: Oxen's history against the gallery (the ledger).

Lists every upstream generation under the gallery's target directories since then, adopts any
billed result the gallery does not have, corrects costs that differ, records it all on each
generation's history and prints a report. Beat runs the same every day for the last two days.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gallery.generation.ledger import generations_reconcile
from seedream.errors import OxenError

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str) -> timedelta | None:
    """``7d``, ``12h``, ``30m``, ``2w``; ``all`` for the whole history."""
    if value == "all":
        return None
    match = re.fullmatch(r"(\d+)([mhdw])", value.strip())
    if not match:
        raise CommandError(f"--since {value!r}: write it like 7d, 12h, 30m, 2w or all")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = "Reconcile Oxen's record of this gallery's generations with the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since", default="7d", help="how far back to look: 7d (default), 12h, 2w or all"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        window = parse_since(options["since"])
        since = None if window is None else timezone.now() - window
        try:
            report = generations_reconcile(since=since)
        except OxenError as exc:
            message = f"Oxen's history could not be read in full: {exc.user_message}"
            raise CommandError(message) from None
        for line in report.lines():
            self.stdout.write(line)
