"""``Idempotency-Key`` on the POSTs that create work: the first answer is kept for 24 hours,
and a repeat with the same key and the same body gets it again (with
``Idempotent-Replayed: true``) and creates nothing, so a client can retry a submit that timed
out without paying twice. The same key with a different body is a 422; while the first
request is still running, a repeat is a 409."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from gallery.api.models import IdempotencyKey
from gallery.errors import ApplicationError

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
KEY_MAX_CHARS = 255


class IdempotencyMismatch(ApplicationError):
    """The key was used with another request."""

    status = 422


class IdempotencyBusy(ApplicationError):
    """The first request with the key is still running (or just expired)."""

    status = 409


def request_fingerprint(request: HttpRequest) -> str:
    """The SHA-256 of what the request asks for: the method, the path and the body as the
    server reads it (JSON canonicalised; a form's fields sorted and each file by its content),
    so the same request sent again, with another multipart boundary, matches."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    if request.content_type == "multipart/form-data":
        for name in sorted(request.POST):
            for value in request.POST.getlist(name):
                digest.update(json.dumps([name, value]).encode())
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                file_digest = hashlib.sha256()
                for chunk in upload.chunks():
                    file_digest.update(chunk)
                upload.seek(0)
                digest.update(json.dumps([name, file_digest.hexdigest()]).encode())
        return digest.hexdigest()
    try:
        parsed = json.loads(request.body or b"null")
        digest.update(json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode())
    except ValueError:
        digest.update(request.body)
    return digest.hexdigest()


def json_response(status: int, body: Any, *, replayed: bool = False) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def idempotent(
    request: HttpRequest,
    *,
    owner: str,
    operation: str,
    make: Callable[[], tuple[int, Any]],
) -> HttpResponse:
    """Run ``make`` (which returns a status and a JSON-able body) once per ``Idempotency-Key``
    of ``owner``; without the header it simply runs."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        status, body = make()
        return json_response(status, body)
    if len(key) > KEY_MAX_CHARS:
        raise IdempotencyMismatch(f"Keep the {HEADER} under {KEY_MAX_CHARS} characters.")
    fingerprint = request_fingerprint(request)
    cutoff = timezone.now() - KEEP
    IdempotencyKey.objects.filter(owner=owner, key=key, created_at__lt=cutoff).delete()
    try:
        with transaction.atomic():
            row = IdempotencyKey.objects.create(
                owner=owner, key=key, operation=operation, body_sha256=fingerprint
            )
    except IntegrityError:
        first = IdempotencyKey.objects.filter(owner=owner, key=key).first()
        if first is None:  # expired and removed in between: a new request after all
            raise IdempotencyBusy("Send the request again.") from None
        if first.operation != operation or first.body_sha256 != fingerprint:
            raise IdempotencyMismatch(
                f"This {HEADER} was used with a different request; use a new key."
            ) from None
        if first.status_code is None:
            raise IdempotencyBusy(
                f"The first request with this {HEADER} is still running; try again shortly."
            ) from None
        return json_response(first.status_code, first.response, replayed=True)
    try:
        with transaction.atomic():
            status, body = make()
            row.status_code, row.response = status, body
            row.save(update_fields=["status_code", "response"])
    except BaseException:
        row.delete()  # nothing was made: the same key may be used again
        raise
    return json_response(status, body)


def idempotency_keys_expire() -> int:
    """Forget answers older than 24 hours (beat, hourly); returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEEP).delete()
    return deleted
