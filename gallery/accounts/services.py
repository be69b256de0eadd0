"""Account writes and checks."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from gallery.accounts.models import User
from gallery.errors import ApplicationError


class AccountError(ApplicationError):
    """An account that cannot be made as entered (the field says which part)."""


def account_validate(*, username: str, password: str) -> None:
    """Raise AccountError (with the field) for a taken username or a weak password."""
    username = username.strip()
    if not username:
        raise AccountError("Choose a username.", field="username")
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise AccountError(" ".join(exc.messages), field="username") from None
    if User.objects.filter(username__iexact=username).exists():
        raise AccountError("That username is taken.", field="username")
    try:
        validate_password(password, User(username=username))
    except ValidationError as exc:
        raise AccountError(" ".join(exc.messages), field="password") from None
