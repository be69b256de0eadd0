"""Create the first admin account and team on a fresh install, and print the login once."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from gallery.accounts.models import User
from gallery.team.services import team_create


class Command(BaseCommand):
    help = "On a fresh database, create an admin account and a first team; otherwise do nothing."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--team", default="My team")

    def handle(self, *args: Any, username: str, team: str, **options: Any) -> None:
        with transaction.atomic():
            if User.objects.exists():
                self.stdout.write("bootstrap: accounts exist already, nothing to do")
                return
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=username, email="", password=password)
            team_create(name=team, owner=user)
        line = "=" * 64
        self.stdout.write(
            f"{line}\n"
            f"  First start: an admin account was created.\n"
            f"    username: {username}\n"
            f"    password: {password}\n"
            f"  It is shown only this once. Change it at /accounts/password/.\n"
            f"{line}"
        )
