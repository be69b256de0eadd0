"""People: the user model (Django's, with a display name)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person who logs in. Staff users are the reviewers."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def display_name(self) -> str:
        return display_name(self.username, self.first_name, self.last_name)


def display_name(username: str, first_name: str, last_name: str) -> str:
    """How a person is named on pages: the full name (as ``get_full_name``), else the
    username. Also for rows read as values, without a ``User``."""
    return f"{first_name} {last_name}".strip() or username
