"""Secret link tokens (shared links, invitation links): ``secrets.token_urlsafe(32)``, 256 bits.

Only a token's SHA-256 is stored; a presented token is checked for shape, hashed, looked up by
that hash and compared again with ``hmac.compare_digest`` (:func:`token_matches`), so no code
path compares secrets with ``==``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.db.models import Model, QuerySet

TOKEN_BYTES = 32
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of 32 bytes, unpadded


def token_new() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


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
