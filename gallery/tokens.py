"""Secret link tokens (shared links, invitation links): 256 bits, base64url, 43 characters.

Only a token's SHA-256 is stored; a presented token is checked for shape, hashed, looked up by
that hash and compared again with ``hmac.compare_digest`` (:func:`row_for_token`), so no code
path compares secrets with ``==``.

Invitation tokens are random (``token_new``) and shown once. Shared-link tokens are *derived*
(``token_derive``): an HMAC-SHA256 of a random nonce stored on the row, keyed with the server's
``SECRET_KEY``. The app can therefore show a link's address again, while the database alone
(nonce and hash) reveals nothing: without the key neither the token nor a guess at it can be
computed. Rotating ``SECRET_KEY`` (with the old one in ``SECRET_KEY_FALLBACKS``) keeps every
address showable; a link whose key is gone keeps working, it just cannot be shown again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils.crypto import salted_hmac

TOKEN_BYTES = 32
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of 32 bytes, unpadded


def token_new() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def nonce_new() -> str:
    """A random nonce for ``token_derive`` (128 bits, base64url); stored, not secret by itself."""
    return secrets.token_urlsafe(16)


def token_derive(nonce: str, *, purpose: str, secret: str | None = None) -> str:
    """The token for ``nonce``: HMAC-SHA256 keyed with ``secret`` (default ``SECRET_KEY``) and
    salted with ``purpose``, as 43 base64url characters (the shape ``TOKEN_RE`` accepts)."""
    digest = salted_hmac(
        f"gallery.tokens.{purpose}", nonce, secret=secret or settings.SECRET_KEY, algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_recover(nonce: str, stored_hash: str, *, purpose: str) -> str | None:
    """The token a row's nonce was derived into, if the current key or one of the fallback
    keys still derives it (checked against the stored hash); None otherwise."""
    if not nonce:
        return None
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        token = token_derive(nonce, purpose=purpose, secret=secret)
        if hmac.compare_digest(token_hash(token), stored_hash):
            return token
    return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def row_for_token[RowT: Model](queryset: QuerySet[RowT], token: str) -> RowT | None:
    """The row of ``queryset`` (a model with a ``token_hash`` field) that ``token`` names."""
    if not TOKEN_RE.match(token):
        return None
    digest = token_hash(token)
    row = queryset.filter(token_hash=digest).first()
    # The lookup is by the hash of a 256-bit secret; the second comparison is constant-time
    # all the same, so no code path compares secrets with ``==``.
    if row is None or not hmac.compare_digest(getattr(row, "token_hash", ""), digest):
        return None
    return row
